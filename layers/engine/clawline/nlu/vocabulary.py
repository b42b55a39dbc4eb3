"""A WordPiece vocabulary looked up in its newline-joined bytes, and indexed only once that has cost about as much.

The static token table (``static_table``) stores BERT's 30,522 tokens as one UTF-8 string joined by newlines; token
``i`` is line ``i``. Indexing it (decode, split, a dict of 30,522 strings) costs about 6-10 ms of CPU, a third of
what the first classification of a cold start cost, while the first message needs a handful of tokens. So lookups
start as byte searches of the joined vocabulary (a token is ``\\n<token>\\n``, its id the number of newlines before
it: tens of microseconds for a found token, about 100 for a missing one) and the dict is built on the
``SEARCHES``-th lookup, when searching has cost about what building it does; from then on a lookup is a dict's.
Either way a token's id is the same: its first line (the packaged vocabulary has no duplicate line).
"""

from __future__ import annotations

#: Lookups answered by searching before the vocabulary is indexed: about as much CPU as indexing it (a search for a
#: missing token scans the 230 KB vocabulary, ~100 us; indexing takes ~6-10 ms).
SEARCHES = 64


class NewlineVocabulary:
    """Token -> id of a newline-joined UTF-8 vocabulary (line ``i`` is token ``i``), with ``dict``'s ``get`` and
    ``[]``."""

    __slots__ = ("_index", "_joined", "_searches")

    def __init__(self, joined: bytes | memoryview) -> None:
        # Framed by newlines, so every token, the first and the last too, is found as "\n<token>\n".
        self._joined = b"\n" + joined + b"\n"
        self._index: dict[str, int] | None = None
        self._searches = 0

    @property
    def indexed(self) -> bool:
        return self._index is not None

    def get(self, token: str) -> int | None:
        index = self._index
        if index is not None:
            return index.get(token)
        self._searches += 1
        if self._searches >= SEARCHES:
            return self.index().get(token)
        return self._search(token)

    def __getitem__(self, token: str) -> int:
        found = self.get(token)
        if found is None:
            raise KeyError(token)
        return found

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and self.get(token) is not None

    def index(self) -> dict[str, int]:
        """The token -> id dict (built once)."""
        if self._index is None:
            tokens = self._joined[1:-1].decode("utf-8").split("\n")
            # Filled from the last line up, so a repeated token keeps its first line's id, as a search finds it.
            self._index = dict(zip(reversed(tokens), range(len(tokens) - 1, -1, -1), strict=True))
            self._joined = b""  # never searched again
        return self._index

    def _search(self, token: str) -> int | None:
        if "\n" in token:
            return None  # no line holds a newline; searched for, it would match across two lines
        try:
            needle = b"\n" + token.encode("utf-8") + b"\n"
        except UnicodeEncodeError:  # a lone surrogate: never in a UTF-8 vocabulary
            return None
        at = self._joined.find(needle)
        return None if at < 0 else self._joined.count(b"\n", 0, at)
