"""Words and hashed n-grams of a message, and the settings that choose them (no numpy).

The default classifier's view of a message starts here: normalize, split into words, hash word and character
n-grams with CRC-32 (stable across processes and machines, unlike ``hash()``). Training (``features``, numpy) and the
numpy-free run time (``linear_runtime``) share these functions, so both see exactly the same n-grams.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
import zlib
from dataclasses import dataclass

#: Words: letters/digits of any script, keeping in-word apostrophes ("what's", "don't").
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*")
#: Control and format characters carry no meaning for intents and would otherwise become n-grams.
_CONTROL = r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202f\ufeff]"


@functools.cache
def _control() -> re.Pattern[str]:
    # Compiled for the first message that is not printable ASCII (a cold start's first is often "hello there").
    return re.compile(_CONTROL)


def normalize(text: str) -> str:
    """Unicode-normalize, case-fold and drop control characters, so full-width and ASCII "hello" are one word."""
    if text.isascii() and text.isprintable():
        # No control character, nothing to encode or compose: NFKC leaves ASCII as it is and case-folds it to lower.
        return text.lower()
    text = _control().sub(" ", text)
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
            from clawline.nlu.static_table import table_name

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
