"""Hashed word and character n-gram features: the default classifier's view of a message.

Every n-gram is hashed with CRC-32 (stable across processes and machines, unlike ``hash()``), so the
artifact stores a sorted array of the hashes seen in training instead of a vocabulary of strings: it loads
in a few milliseconds (the hash -> index table is built on first use). Hashes never seen in training are dropped,
which is what a linear model would do with them anyway.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

# Re-exported: the text side (words, hashes, settings) lives in ``ngrams`` so the run time needs no numpy.
from clawline.nlu.ngrams import FeatureConfig, NgramHasher, normalize, pair_hash, unigram_hash, words

if TYPE_CHECKING:
    from clawline.nlu.static import StaticEmbeddings

__all__ = [
    "F32",
    "I64",
    "U32",
    "FeatureConfig",
    "Featurizer",
    "NgramHasher",
    "SparseRows",
    "Vocabulary",
    "normalize",
    "pair_hash",
    "unigram_hash",
    "words",
]

U32 = npt.NDArray[np.uint32]
I64 = npt.NDArray[np.int64]
F32 = npt.NDArray[np.float32]


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
