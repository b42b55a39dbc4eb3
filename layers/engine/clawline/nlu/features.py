"""Hashed word and character n-gram features: the default classifier's view of a message.

Every n-gram is hashed with CRC-32 (stable across processes and machines, unlike ``hash()``), so the
artifact stores a sorted array of the hashes seen in training instead of a vocabulary of strings: it loads
in a few milliseconds (the hash -> index table is built on first use). Hashes never seen in training are dropped,
which is what a linear model would do with them anyway.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from clawline.nlu.static import StaticEmbeddings

#: Words: letters/digits of any script, keeping in-word apostrophes ("what's", "don't").
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
#: Control and format characters carry no meaning for intents and would otherwise become n-grams.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202f\ufeff]")

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]


def normalize(text: str) -> str:
    """Unicode-normalize, case-fold and drop control characters, so full-width and ASCII "hello" are one word."""
    text = _CONTROL.sub(" ", text)
    # Lone surrogates (from binary junk decoded with surrogateescape) cannot be normalized; drop them.
    text = text.encode("utf-8", "ignore").decode("utf-8")
    return unicodedata.normalize("NFKC", text).casefold()


def words(text: str) -> list[str]:
    return _WORD.findall(normalize(text))


@dataclass(frozen=True)
class FeatureConfig:
    """Which n-grams make a message's features. Stored in the artifact header."""

    word_ngrams: int = 2
    char_min: int = 2
    char_max: int = 5
    #: Weight of the character block relative to the word block (each block is L2-normalized).
    char_weight: float = 1.0
    #: Weight of the static sentence vector (``clawline.nlu.static``, a unit vector) appended to the n-grams;
    #: 0 turns it off. Artifacts written before it existed have none.
    static_weight: float = 1.5

    def to_json(self) -> dict[str, float | int | str]:
        out: dict[str, float | int | str] = {
            "word_ngrams": self.word_ngrams,
            "char_min": self.char_min,
            "char_max": self.char_max,
            "char_weight": self.char_weight,
        }
        if self.static_weight:
            from clawline.nlu.static import table_name

            # The table's identity is part of the recipe: a model is only used with the table it was trained on.
            out |= {"static_weight": self.static_weight, "static_table": table_name()}
        return out

    @classmethod
    def from_json(cls, data: dict[str, float | int | str]) -> FeatureConfig:
        return cls(
            word_ngrams=int(data["word_ngrams"]),
            char_min=int(data["char_min"]),
            char_max=int(data["char_max"]),
            char_weight=float(data["char_weight"]),
            static_weight=float(data.get("static_weight", 0.0)),
        )


def _crc(gram: str) -> int:
    return zlib.crc32(gram.encode("utf-8", "surrogatepass"))


class NgramHasher:
    """Turns text into two lists of n-gram hashes: word n-grams and character n-grams within words.

    Character n-grams of a word are cached (bounded), because the same words come back in every message
    and hashing them is most of the featurization cost.
    """

    _CACHE_LIMIT = 50_000

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config
        self._char_cache: dict[str, list[int]] = {}

    def char_grams(self, word: str) -> list[int]:
        """Hashes of the character n-grams of ``word`` (space-padded, so word edges are n-grams too)."""
        padded = f" {word} "
        size = len(padded)
        lo, hi = self.config.char_min, self.config.char_max
        return [_crc("c" + padded[i : i + n]) for n in range(lo, hi + 1) for i in range(size - n + 1)]

    def _char_hashes(self, word: str) -> list[int]:
        cached = self._char_cache.get(word)
        if cached is not None:
            return cached
        hashes = self.char_grams(word)
        if len(self._char_cache) >= self._CACHE_LIMIT:
            self._char_cache.clear()
        self._char_cache[word] = hashes
        return hashes

    def hash(self, text: str) -> tuple[list[int], list[int]]:
        tokens = words(text)
        word_hashes = [unigram_hash(w) for w in tokens]
        if self.config.word_ngrams >= 2:
            bounded = ["^", *tokens, "$"]
            word_hashes += [pair_hash(a, b) for a, b in itertools.pairwise(bounded)]
        char_hashes: list[int] = []
        for w in tokens:
            char_hashes += self._char_hashes(w)
        return word_hashes, char_hashes


def unigram_hash(word: str) -> int:
    return _crc("w" + word)


def pair_hash(first: str, second: str) -> int:
    """Hash of a word bigram; ``^`` and ``$`` stand for the start and the end of the message."""
    return _crc(f"b{first} {second}")


@dataclass
class Vocabulary:
    """The n-gram hashes kept from training (sorted) with their inverse document frequencies."""

    keys: U32
    idf: F32
    _by_hash: dict[int, int] | None = field(default=None, repr=False, compare=False)

    @property
    def size(self) -> int:
        return int(self.keys.shape[0])

    @classmethod
    def fit(cls, docs: Sequence[tuple[list[int], list[int]]], *, min_df: int) -> Vocabulary:
        n = len(docs)
        if n == 0:
            return cls(np.zeros(0, np.uint32), np.zeros(0, np.float32))
        per_doc = [np.unique(np.asarray(w + c, dtype=np.uint32)) for w, c in docs]
        hashes, df = np.unique(np.concatenate(per_doc), return_counts=True)
        keep = df >= min_df
        idf = np.log((1.0 + n) / (1.0 + df[keep])) + 1.0
        return cls(hashes[keep].astype(np.uint32), idf.astype(np.float32))

    def index(self) -> dict[int, int]:
        """n-gram hash -> feature index (built on first use: a dict lookup per n-gram is the fastest path)."""
        if self._by_hash is None:
            self._by_hash = dict(zip(self.keys.tolist(), range(self.size), strict=True))
        return self._by_hash


class Featurizer:
    """Text -> sparse feature vector (indices, values). Index ``vocab.size`` is the always-on bias feature.

    Training (``transform_hashes``) and inference (``transform``) meet in ``_weigh``, so a model sees at run
    time exactly the features it was trained on. ``transform`` caches, per word, the feature indices of its
    unigram and character n-grams, and per word pair the bigram's index (both bounded): a message is then a
    few dict lookups per word instead of a CRC and a lookup per n-gram.
    """

    _CACHE_LIMIT = 50_000

    def __init__(self, config: FeatureConfig, vocab: Vocabulary) -> None:
        self.config = config
        self.vocab = vocab
        self.hasher = NgramHasher(config)
        self.bias_index = vocab.size
        self._static: StaticEmbeddings | None = None
        self._static_indices: I64 = np.zeros(0, np.int64)
        if config.static_weight:
            from clawline.nlu.static import static_embeddings

            self._static = static_embeddings()
            # The static vector's components follow the bias feature.
            self._static_indices = np.arange(vocab.size + 1, vocab.size + 1 + self._static.dim, dtype=np.int64)
        self._idf = vocab.idf.astype(np.float64)
        #: word -> (unigram feature index or -1, feature indices of its character n-grams)
        self._words: dict[str, tuple[int, list[int]]] = {}
        #: (previous word, word) -> bigram feature index or -1
        self._pairs: dict[tuple[str, str], int] = {}

    @property
    def dim(self) -> int:
        return self.vocab.size + 1 + len(self._static_indices)

    def transform_hashes(
        self, word_hashes: list[int], char_hashes: list[int], tokens: Sequence[str] = ()
    ) -> tuple[I64, F32]:
        """Features from precomputed hashes; ``tokens`` (the message's ``words``) feed the static vector."""
        index = self.vocab.index()
        word_ids = [i for h in word_hashes if (i := index.get(h)) is not None]
        char_ids = [i for h in char_hashes if (i := index.get(h)) is not None]
        return self._with_static(self._weigh(word_ids, char_ids), tokens)

    def _with_static(self, sparse: tuple[I64, F32], tokens: Sequence[str]) -> tuple[I64, F32]:
        if self._static is None:
            return sparse
        vector = self._static.embed_words(tokens)
        vector *= self.config.static_weight
        return np.concatenate([sparse[0], self._static_indices]), np.concatenate([sparse[1], vector])

    def transform(self, text: str) -> tuple[I64, F32]:
        tokens = words(text)
        word_ids: list[int] = []
        char_ids: list[int] = []
        for token in tokens:
            unigram, chars = self._word(token)
            if unigram >= 0:
                word_ids.append(unigram)
            char_ids += chars
        if self.config.word_ngrams >= 2:
            previous = "^"
            for token in itertools.chain(tokens, ("$",)):
                pair = self._pair(previous, token)
                if pair >= 0:
                    word_ids.append(pair)
                previous = token
        return self._with_static(self._weigh(word_ids, char_ids), tokens)

    def _word(self, word: str) -> tuple[int, list[int]]:
        entry = self._words.get(word)
        if entry is None:
            index = self.vocab.index()
            chars = [i for h in self.hasher.char_grams(word) if (i := index.get(h)) is not None]
            entry = (index.get(unigram_hash(word), -1), chars)
            if len(self._words) >= self._CACHE_LIMIT:
                self._words.clear()
            self._words[word] = entry
        return entry

    def _pair(self, first: str, second: str) -> int:
        key = (first, second)
        found = self._pairs.get(key)
        if found is None:
            found = self.vocab.index().get(pair_hash(first, second), -1)
            if len(self._pairs) >= self._CACHE_LIMIT:
                self._pairs.clear()
            self._pairs[key] = found
        return found

    def _weigh(self, word_ids: list[int], char_ids: list[int]) -> tuple[I64, F32]:
        """Sublinear TF x IDF per block, each block L2-normalized (the char block to ``char_weight``), + bias.

        Features appear in first-occurrence order, word block first. Counting is ``Counter`` (C) and the
        arithmetic one numpy pass over the ~100-200 distinct n-grams of a message: per-element Python would
        cost several times more.
        """
        word_counts, char_counts = Counter(word_ids), Counter(char_ids)
        n_word, n = len(word_counts), len(word_counts) + len(char_counts)
        indices = np.fromiter(itertools.chain(word_counts, char_counts, (self.bias_index,)), np.int64, n + 1)
        values = np.fromiter(itertools.chain(word_counts.values(), char_counts.values(), (1,)), np.float64, n + 1)
        body = values[:n]
        np.log(body, out=body)
        body += 1.0
        body *= self._idf[indices[:n]]
        for block, weight in ((values[:n_word], 1.0), (values[n_word:n], self.config.char_weight)):
            if len(block):
                np.multiply(block, weight / math.sqrt(float(block @ block)), out=block)  # in place: a view
        return indices, values.astype(np.float32)


@dataclass
class SparseRows:
    """A batch of sparse rows in CSR form (no scipy at run time)."""

    indptr: I64
    indices: I64
    values: F32

    @property
    def n_rows(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @classmethod
    def stack(cls, rows: Sequence[tuple[I64, F32]]) -> SparseRows:
        lengths = np.array([len(i) for i, _ in rows], dtype=np.int64)
        indptr = np.concatenate([np.zeros(1, np.int64), np.cumsum(lengths)])
        if rows:
            indices = np.concatenate([i for i, _ in rows]).astype(np.int64)
            values = np.concatenate([v for _, v in rows]).astype(np.float32)
        else:
            indices, values = np.zeros(0, np.int64), np.zeros(0, np.float32)
        return cls(indptr, indices, values)

    def select(self, rows: I64) -> tuple[I64, I64, F32, I64]:
        """Row starts (within the selection), indices, values and owning row of each non-zero of ``rows``."""
        starts_src = self.indptr[rows]
        lengths = self.indptr[rows + 1] - starts_src
        ends = np.cumsum(lengths)
        starts = ends - lengths
        take = np.repeat(starts_src - starts, lengths) + np.arange(int(ends[-1]) if len(ends) else 0)
        owner = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
        return starts, self.indices[take], self.values[take], owner

    def dot(self, weights: F32, rows: I64 | None = None) -> F32:
        """``X[rows] @ weights`` for a dense weight matrix; every row has at least the bias feature."""
        if rows is None:
            rows = np.arange(self.n_rows, dtype=np.int64)
        starts, idx, val, _ = self.select(rows)
        out: F32 = np.add.reduceat(weights[idx] * val[:, None], starts, axis=0)
        return out
