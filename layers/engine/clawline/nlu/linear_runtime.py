"""The default model at run time, without numpy: ``nlu.npz`` read through memory views, scored in pure Python.

Importing numpy costs a classifying cold start 100-150 ms of CPU; the model's inference is small enough not to need
it. A message is the same features as ``features.Featurizer`` gives (word and character n-gram rows weighted by
log counts, IDF and each block's L2 norm, the bias row, the static sentence vector's rows), and its logits are a sum
of int8 weight rows times those weights. That sum is done on Python integers used as vectors: a row of ``C`` int8
weights is one integer with ``C`` 64-bit lanes (each weight + 128, so no lane is negative), and multiplying such an
integer by a whole-number coefficient and adding it to another is one C-level operation on all ``C`` lanes::

    row i      = | w[i,0]+128 | w[i,1]+128 | ... |     (64 bits per lane, lowest lane first)
    sum a_i * row i  ->  lane c = sum a_i w[i,c] + 128 sum a_i      (exact: no lane overflows, see the bounds)

Coefficients are whole numbers in units of 2**-23: an IDF (a float32 >= 1) is exactly a multiple of that, so the
one-count n-grams (nearly all of them) are summed exactly and can be cached per word (its character n-grams) and per
WordPiece token (the token's static-table row times the static weight block, ``P_t``); a message is then a handful
of big-integer operations (its words, its bigrams, its tokens) instead of one per n-gram. (Read back, a lane may be
one unit of 2**-23 short: see ``signed_lanes``.) The results match the
numpy model within float32 rounding (``tests/unit/nlu/test_linear_runtime.py`` checks the probabilities, ranking
and out-of-scope decision on several trained models).

Training and evaluation keep numpy (``linear.LinearModel``); so do the embedding backend and its n-gram companion.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from clawline.nlu.ngrams import FeatureConfig, NgramHasher, pair_hash, unigram_hash, words
from clawline.nlu.npz_views import ArrayView, read_header, read_npz
from clawline.nlu.recipe import OOS_LABEL, check_artifact
from clawline.nlu.static_table import StaticTokens, static_tokens

#: Bits per lane, and the scale of whole-number coefficients (float32 IDFs >= 1 are multiples of 2**-23).
_LANE = 64
_UNIT = float(1 << 23)
#: A lane must stay below 2**64: coefficient sums (x 255, the largest offset weight) are checked against this.
_MAX_COEFFICIENT_BITS = 55
#: The bound the static sum's coefficients are scaled to: |P_t| <= 2**22 per lane, 2**39 * 2**22 = 2**61 < 2**63.
_STATIC_COEFFICIENT_BITS = 39
#: Signed int8 byte -> weight + 128 (two's complement, so flipping the top bit).
_PLUS_128 = bytes(b ^ 0x80 for b in range(256))
#: Bounded caches (entries hold a C-lane integer, about 1.2 KB for 150 intents).
_CACHE_LIMIT = 10_000

K = TypeVar("K")
V = TypeVar("V")


def _cached(cache: dict[K, V], key: K, make: Callable[[K], V]) -> V:
    found = cache.get(key)
    if found is None:
        found = make(key)
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        cache[key] = found
    return found


def pack_row(row: memoryview, lanes: int) -> int:
    """One int8 row as an integer of 64-bit lanes holding weight + 128 (lowest lane = first column)."""
    buf = bytearray(8 * lanes)
    buf[0::8] = row.tobytes().translate(_PLUS_128)
    return int.from_bytes(buf, "little")


def pack_rows(block: memoryview, lanes: int) -> list[int]:
    """``pack_row`` of each row of a contiguous block of rows ``lanes`` wide, with one translation and one strided
    copy for the whole block (the static weight block's 256 rows: about half the time of a row at a time)."""
    width = 8 * lanes
    buf = bytearray(8 * len(block))
    buf[0::8] = block.tobytes().translate(_PLUS_128)
    return [int.from_bytes(buf[i : i + width], "little") for i in range(0, len(buf), width)]


def signed_lanes(value: int, lanes: int) -> memoryview:
    """The 64-bit lanes of a sum of signed lanes, each read as a signed integer.

    Read back this way, a lane is one less than its true value when the lanes below it sum to a negative number (the
    borrow of two's complement): an error of one unit in numbers of tens of bits, far below float32 rounding, and it
    keeps the read-back one C call instead of a Python operation per lane.
    """
    return memoryview(value.to_bytes(8 * lanes, "little", signed=True)).cast("q")


class _Word:
    """What a word brings to a message: its unigram row, and its character n-grams summed once."""

    __slots__ = ("char_ids", "char_sum", "coefficients", "squares", "unigram")

    def __init__(self, unigram: int, char_ids: list[int], char_sum: int, coefficients: int, squares: float) -> None:
        self.unigram = unigram
        self.char_ids = char_ids
        #: sum over the word's character n-grams of IDF (x 2**23) x packed row
        self.char_sum = char_sum
        #: sum of those IDFs (x 2**23): the lanes' +128 offsets to remove
        self.coefficients = coefficients
        #: sum of their squared IDFs: the block norm of a message where each appears once
        self.squares = squares


class _Token:
    """A WordPiece token's static-table row (packed, +128) and that row times the static weight block (signed)."""

    __slots__ = ("projection", "row")

    def __init__(self, row: int, projection: int) -> None:
        self.row = row
        self.projection = projection


class RuntimeLinearModel:
    """The default model (``nlu.npz``) ready to score messages without numpy; what ``NluEngine`` needs of it."""

    def __init__(self, header: dict[str, Any], arrays: dict[str, ArrayView]) -> None:
        self.labels: list[str] = list(header["labels"])
        self.features = FeatureConfig.from_json(header["features"])
        self.temperature = float(header["temperature"])
        self.threshold = float(header["threshold"])
        self.meta: dict[str, Any] = dict(header.get("meta", {}))
        self.oos_index = self.labels.index(OOS_LABEL) if OOS_LABEL in self.labels else -1
        self._keys = arrays["keys"].data
        self._idf = arrays["idf"].data
        self._weights = arrays["weights"]
        self._classes = len(self.labels)
        n_features = len(self._keys)
        self._bias_index = n_features
        rows = self._weights.shape[0]
        if self._weights.shape[1] != self._classes or rows < n_features + 1:
            raise ValueError("weights do not match the labels and the vocabulary")
        self._static: StaticTokens | None = None
        if self.features.static_weight:
            self._static = static_tokens()
            if rows != n_features + 1 + self._static.dim:
                raise ValueError("weights have no rows for the static sentence vector")
        # Dequantization scale and temperature in one factor per class.
        self._folded = [s / self.temperature for s in arrays["scales"].data.tolist()]
        self._hasher = NgramHasher(self.features)
        self._ones = sum(1 << (_LANE * c) for c in range(self._classes))
        self._static_ones = sum(1 << (_LANE * d) for d in range(self._static.dim)) if self._static else 0
        self._rows: dict[int, int] = {}
        self._words: dict[str, _Word] = {}
        self._pairs: dict[tuple[str, str], int] = {}
        self._tokens: dict[int, _Token] = {}
        self._static_rows: list[int] | None = None

    @classmethod
    def load(cls, path: Path) -> RuntimeLinearModel:
        """Read ``path`` (memory-mapped); ``ValueError`` if it is not a default-model artifact for this table."""
        arrays = read_npz(path)
        return cls.from_arrays(read_header(arrays), arrays, path)

    @classmethod
    def from_arrays(cls, header: dict[str, Any], arrays: dict[str, ArrayView], path: Path) -> RuntimeLinearModel:
        """The model of an artifact already read (``npz_views.peek``); ``ValueError`` as ``load``."""
        check_artifact(header, path)
        return cls(header, arrays)

    @property
    def has_oos_class(self) -> bool:
        return self.oos_index >= 0

    # ------------------------------------------------------------------------------------------------------------
    # Lookups, each cached: the same words, pairs, rows and tokens come back in every message.

    def _find(self, gram_hash: int) -> int:
        """Feature index of an n-gram hash, or -1 (the keys are sorted: a binary search, no table to build)."""
        keys = self._keys
        i = bisect.bisect_left(keys, gram_hash)
        return i if i < len(keys) and keys[i] == gram_hash else -1

    def _row(self, index: int) -> int:
        return _cached(self._rows, index, lambda i: pack_row(self._weights.row(i), self._classes))

    def _idf_units(self, index: int) -> int:
        return round(float(self._idf[index]) * _UNIT)

    def _word(self, word: str) -> _Word:
        def make(w: str) -> _Word:
            chars = [i for h in self._hasher.char_grams(w) if (i := self._find(h)) >= 0]
            units = [self._idf_units(i) for i in chars]
            char_sum = sum(map(operator.mul, units, map(self._row, chars)))
            squares = math.fsum(self._idf[i] ** 2 for i in chars)
            return _Word(self._find(unigram_hash(w)), chars, char_sum, sum(units), squares)

        return _cached(self._words, word, make)

    def _pair(self, pair: tuple[str, str]) -> int:
        return _cached(self._pairs, pair, lambda p: self._find(pair_hash(*p)))

    def _token(self, token: int) -> _Token:
        static = self._static
        assert static is not None

        def make(t: int) -> _Token:
            table_row = static.table.row(t)
            if self._static_rows is None:
                # The static weight block as signed C-lane integers (once per process, 256 rows).
                first, width, offset = self._bias_index + 1, self._classes, 128 * self._ones
                block = self._weights.data[first * width : (first + static.dim) * width]
                self._static_rows = [row - offset for row in pack_rows(block, width)]
            projection = sum(map(operator.mul, table_row.tolist(), self._static_rows))
            return _Token(pack_row(table_row, static.dim), projection)

        return _cached(self._tokens, token, make)

    # ------------------------------------------------------------------------------------------------------------

    def logits(self, text: str) -> list[float]:
        """Dequantized logits (before temperature), as ``LinearModel.logits``."""
        return [z * self.temperature for z in self._scaled(text)]

    def probabilities(self, text: str) -> list[float]:
        """Calibrated probabilities of every class, in ``labels`` order."""
        z = self._scaled(text)
        top = max(z)
        exps = [math.exp(v - top) for v in z]
        total = math.fsum(exps)
        return [e / total for e in exps]

    def _scaled(self, text: str) -> list[float]:
        tokens = words(text)
        n_classes = self._classes
        # Character block: each word's cached sum, then the n-grams repeated in the message fixed up to
        # (1 + log count) x IDF instead of count x IDF.
        char_acc, char_coef, char_sq = 0, 0, 0.0
        word_ids: list[int] = []
        char_ids: list[int] = []
        for token in tokens:
            entry = self._word(token)
            if entry.unigram >= 0:
                word_ids.append(entry.unigram)
            char_acc += entry.char_sum
            char_coef += entry.coefficients
            char_sq += entry.squares
            char_ids += entry.char_ids
        if self.features.word_ngrams >= 2:
            pairs = map(self._pair, itertools.pairwise(itertools.chain(("^",), tokens, ("$",))))
            word_ids += [found for found in pairs if found >= 0]
        if len(char_ids) > 1:
            counts = Counter(char_ids)
            if len(counts) < len(char_ids):
                for i, n in counts.items():
                    if n > 1:
                        idf = self._idf[i]
                        fix = round((1.0 + math.log(n)) * idf * _UNIT) - n * self._idf_units(i)
                        char_acc += fix * self._row(i)
                        char_coef += fix
                        char_sq += ((1.0 + math.log(n)) * idf) ** 2 - n * idf * idf
        # Everything in the character block's units (2**23 x its norm / char_weight); without character n-grams,
        # in units of 2**23.
        char_norm = math.sqrt(char_sq) if char_ids else 0.0
        unit = char_norm / self.features.char_weight if char_norm > 0 else 1.0
        acc = char_acc if char_norm > 0 else 0
        coef = char_coef if char_norm > 0 else 0
        if word_ids:
            word_counts = Counter(word_ids)
            values = [(1.0 + math.log(n)) * self._idf[i] for i, n in word_counts.items()]
            word_norm = math.sqrt(math.fsum(v * v for v in values))
            scale = unit * _UNIT / word_norm
            units = [round(v * scale) for v in values]
            acc += sum(map(operator.mul, units, map(self._row, word_counts)))
            coef += sum(units)
        bias = round(unit * _UNIT)
        acc += bias * self._row(self._bias_index)
        coef += bias
        if coef.bit_length() > _MAX_COEFFICIENT_BITS:
            raise ValueError("message too long to score exactly (NluEngine reads at most 16,384 characters)")
        k = 1.0 / (unit * _UNIT)
        main = signed_lanes(acc - 128 * coef * self._ones, n_classes)  # the +128 offsets removed in one operation
        static = self._static_part(tokens)
        if static is None:
            return [a * k * f for a, f in zip(main, self._folded, strict=True)]
        lanes, k_static = static
        return [(a * k + b * k_static) * f for a, b, f in zip(main, lanes, self._folded, strict=True)]

    def _static_part(self, tokens: list[str]) -> tuple[memoryview, float] | None:
        """The static sentence vector's logit lanes and their factor, or None when the message has no known token."""
        static = self._static
        if static is None:
            return None
        counts = Counter(i for word in tokens for i in static.token_ids(word))
        if not counts:
            return None
        scales = static.scales
        total = math.fsum(scales[t] * n for t, n in counts.items())
        if total <= 0:
            return None
        # Whole-number coefficients scale_t x count x 2**bits, as fine as the lanes allow.
        bits = _STATIC_COEFFICIENT_BITS - max(0, math.ceil(math.log2(total)) + 1)
        coefficients = [round(scales[t] * n * 2.0**bits) for t, n in counts.items()]
        entries = [self._token(t) for t in counts]
        vector = sum(map(operator.mul, coefficients, (e.row for e in entries)))
        projected = sum(map(operator.mul, coefficients, (e.projection for e in entries)))
        norm = math.hypot(*signed_lanes(vector - 128 * sum(coefficients) * self._static_ones, static.dim))
        if norm == 0:
            return None
        return signed_lanes(projected, self._classes), self.features.static_weight / norm
