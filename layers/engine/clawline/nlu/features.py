"""Hashed word and character n-gram features: the default classifier's view of a message.

Every n-gram is hashed with CRC-32 (stable across processes and machines, unlike ``hash()``), so the
artifact stores a sorted array of the hashes seen in training instead of a vocabulary of strings: it loads
in a few milliseconds and a lookup is one ``searchsorted``. Hashes never seen in training are dropped,
which is what a linear model would do with them anyway.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

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

    def to_json(self) -> dict[str, float | int]:
        return {
            "word_ngrams": self.word_ngrams,
            "char_min": self.char_min,
            "char_max": self.char_max,
            "char_weight": self.char_weight,
        }

    @classmethod
    def from_json(cls, data: dict[str, float | int]) -> FeatureConfig:
        return cls(
            word_ngrams=int(data["word_ngrams"]),
            char_min=int(data["char_min"]),
            char_max=int(data["char_max"]),
            char_weight=float(data["char_weight"]),
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

    def _char_hashes(self, word: str) -> list[int]:
        cached = self._char_cache.get(word)
        if cached is not None:
            return cached
        padded = f" {word} "
        size = len(padded)
        lo, hi = self.config.char_min, self.config.char_max
        hashes = [_crc("c" + padded[i : i + n]) for n in range(lo, hi + 1) for i in range(size - n + 1)]
        if len(self._char_cache) >= self._CACHE_LIMIT:
            self._char_cache.clear()
        self._char_cache[word] = hashes
        return hashes

    def hash(self, text: str) -> tuple[list[int], list[int]]:
        tokens = words(text)
        word_hashes = [_crc("w" + w) for w in tokens]
        if self.config.word_ngrams >= 2:
            bounded = ["^", *tokens, "$"]
            word_hashes += [_crc(f"b{a} {b}") for a, b in itertools.pairwise(bounded)]
        char_hashes: list[int] = []
        for w in tokens:
            char_hashes += self._char_hashes(w)
        return word_hashes, char_hashes


@dataclass
class Vocabulary:
    """The n-gram hashes kept from training (sorted) with their inverse document frequencies."""

    keys: U32
    idf: F32
    _by_hash: dict[int, int] | None = field(default=None, repr=False, compare=False)
    _idf_list: list[float] | None = field(default=None, repr=False, compare=False)

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

    def idf_list(self) -> list[float]:
        if self._idf_list is None:
            self._idf_list = self.idf.tolist()
        return self._idf_list


class Featurizer:
    """Text -> sparse feature vector (indices, values). Index ``vocab.size`` is the always-on bias feature."""

    def __init__(self, config: FeatureConfig, vocab: Vocabulary) -> None:
        self.config = config
        self.vocab = vocab
        self.hasher = NgramHasher(config)
        self.bias_index = vocab.size

    @property
    def dim(self) -> int:
        return self.vocab.size + 1

    def transform_hashes(self, word_hashes: list[int], char_hashes: list[int]) -> tuple[I64, F32]:
        # Plain Python over the ~100 n-grams of a message, then one array each: numpy's per-call overhead
        # would cost more than the arithmetic. Training uses this same function, so features match exactly.
        index, idf = self.vocab.index(), self.vocab.idf_list()
        indices: list[int] = []
        values: list[float] = []
        for hashes, weight in ((word_hashes, 1.0), (char_hashes, self.config.char_weight)):
            counts: dict[int, int] = {}
            for h in hashes:
                i = index.get(h)
                if i is not None:
                    counts[i] = counts.get(i, 0) + 1
            if not counts:
                continue
            block = [(1.0 + math.log(c)) * idf[i] for i, c in counts.items()]
            scale = weight / math.sqrt(sum(v * v for v in block))
            indices.extend(counts)
            values.extend(v * scale for v in block)
        indices.append(self.bias_index)
        values.append(1.0)
        return np.array(indices, dtype=np.int64), np.array(values, dtype=np.float32)

    def transform(self, text: str) -> tuple[I64, F32]:
        return self.transform_hashes(*self.hasher.hash(text))


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
