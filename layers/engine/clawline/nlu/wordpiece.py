"""BERT's uncased WordPiece tokenizer in pure Python (what ``BertTokenizer`` does for all-MiniLM-L6-v2).

Kept dependency-free so the embedding layer needs onnxruntime and numpy only.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Protocol

_MAX_WORD_CHARS = 100


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


class Vocabulary(Protocol):
    """Token -> id, as a ``dict`` answers it (``vocabulary.NewlineVocabulary`` looks ids up without building one)."""

    def get(self, token: str, /) -> int | None: ...

    def __getitem__(self, token: str, /) -> int: ...


class WordPieceTokenizer:
    def __init__(
        self,
        vocab_path: Path | None = None,
        *,
        max_tokens: int = 128,
        tokens: list[str] | None = None,
        vocabulary: Vocabulary | None = None,
    ) -> None:
        if vocabulary is None:
            if tokens is None:
                if vocab_path is None:
                    raise ValueError("WordPieceTokenizer needs a vocabulary file, a token list or a vocabulary")
                tokens = vocab_path.read_text(encoding="utf-8").splitlines()
            vocabulary = dict(zip(tokens, range(len(tokens)), strict=True))
        self.vocab = vocabulary
        self.max_tokens = max_tokens
        self.cls, self.sep, self.unk = self.vocab["[CLS]"], self.vocab["[SEP]"], self.vocab["[UNK]"]
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def from_tokens(cls, tokens: list[str], *, max_tokens: int = 128) -> WordPieceTokenizer:
        return cls(max_tokens=max_tokens, tokens=tokens)

    @classmethod
    def from_vocabulary(cls, vocabulary: Vocabulary, *, max_tokens: int = 128) -> WordPieceTokenizer:
        return cls(max_tokens=max_tokens, vocabulary=vocabulary)

    def _basic(self, text: str) -> list[str]:
        out: list[str] = []
        word: list[str] = []
        for ch in unicodedata.normalize("NFD", text.lower()):
            cp = ord(ch)
            cat = unicodedata.category(ch)
            if cp in {0, 0xFFFD} or (cat.startswith("C") and ch not in "\t\n\r") or cat == "Mn":
                continue  # control characters and accents are dropped, as BERT's uncased tokenizer does
            if ch.isspace():
                if word:
                    out.append("".join(word))
                    word = []
            elif _is_punctuation(ch) or _is_cjk(cp):
                if word:
                    out.append("".join(word))
                    word = []
                out.append(ch)
            else:
                word.append(ch)
        if word:
            out.append("".join(word))
        return out

    def _wordpiece(self, word: str) -> list[int]:
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if len(word) > _MAX_WORD_CHARS:
            return [self.unk]
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.vocab.get(piece)
                if found is not None:
                    break
                end -= 1
            if found is None:
                pieces = [self.unk]
                break
            pieces.append(found)
            start = end
        if len(self._cache) < 100_000:
            self._cache[word] = pieces
        return pieces

    def encode(self, text: str) -> list[int]:
        ids = [self.cls]
        for word in self._basic(text):
            ids += self._wordpiece(word)
            if len(ids) >= self.max_tokens - 1:
                break
        return [*ids[: self.max_tokens - 1], self.sep]
