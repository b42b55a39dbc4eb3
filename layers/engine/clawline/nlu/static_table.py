"""Where the static token table is and what it is called, and its numpy-free reader for the run time.

The table (``data/minilm-static.npz``, see ``static``) is shared by every bot; a model names it in its header and is
only used with it. ``StaticTokens`` reads the table through ``npz_views`` (no numpy): the WordPiece ids of a word and
the int8 row and scale of a token, which is all ``linear_runtime`` needs to build the static sentence vector. The
table is read once per process (its name for a fingerprint, its header check and its rows share one memory map), and
its vocabulary is searched rather than indexed until a process has looked up enough tokens (``vocabulary``).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

from clawline.nlu.npz_views import ArrayView, read_header, read_npz
from clawline.nlu.vocabulary import NewlineVocabulary
from clawline.nlu.wordpiece import Vocabulary, WordPieceTokenizer

TABLE_NAME = "minilm-static.npz"
#: Where the NLU layer puts the table in a Lambda build (a folder of /opt/python): the engine layer leaves it out, so
#: a rules-only bot's layers do not carry it (packaging/Makefile).
LAYER_FOLDER = "clawline_nlu_data"
FORMAT = "clawline-nlu-static"


def find_table() -> Path:
    """The table beside this package (a source tree, the dev venv), else the NLU layer's copy on ``sys.path``."""
    beside = Path(__file__).with_name("data") / TABLE_NAME
    if beside.is_file():
        return beside
    for entry in sys.path:
        candidate = Path(entry or ".") / LAYER_FOLDER / TABLE_NAME
        if candidate.is_file():
            return candidate
    return beside  # missing everywhere: the error names where the engine looked first


TABLE_PATH = find_table()


def table_identity(header: dict[str, object]) -> str:
    """What a model's header names the table by: its source, the source's digest and the dimension."""
    return f"{header['source']}:{str(header['source_sha256'])[:12]}:{header['dim']}"


class WordPieceIds:
    """A word's WordPiece ids from the table's vocabulary, cached: the same words come back in every message.
    Shared by this reader and the numpy one (``static.StaticEmbeddings``), so both split words identically."""

    _CACHE_LIMIT = 50_000

    def __init__(self, vocabulary: Vocabulary) -> None:
        self.tokenizer = WordPieceTokenizer.from_vocabulary(vocabulary, max_tokens=256)
        self._ids: dict[str, list[int]] = {}

    def token_ids(self, word: str) -> list[int]:
        """WordPiece ids of one word of ``ngrams.words`` (without the ``[CLS]``/``[SEP]`` ends)."""
        ids = self._ids.get(word)
        if ids is None:
            ids = self.tokenizer.encode(word)[1:-1]
            if len(self._ids) >= self._CACHE_LIMIT:
                self._ids.clear()
            self._ids[word] = ids
        return ids


@functools.cache
def read_table(path: Path) -> dict[str, ArrayView]:
    """The table's arrays (memory-mapped), read once per process: a classifying cold start needs its name twice (the
    bot's fingerprint, the artifact's check) and then its rows."""
    return read_npz(path)


def table_name() -> str:
    """The packaged table's identity without building its tokenizer (for fingerprints and headers)."""
    return table_identity(read_header(read_table(TABLE_PATH)))


class StaticTokens(WordPieceIds):
    """The table's tokenizer, rows and scales, read without numpy."""

    def __init__(self, vocabulary: Vocabulary, table: ArrayView, scales: ArrayView, name: str) -> None:
        super().__init__(vocabulary)
        self.table = table
        self.scales = scales.data
        self.dim = table.shape[1]
        self.name = name

    @classmethod
    def load(cls, path: Path = TABLE_PATH) -> StaticTokens:
        data = read_table(path)
        header = read_header(data)
        if header.get("format") != FORMAT:
            raise ValueError(f"{path} is not a {FORMAT} table")
        vocabulary = NewlineVocabulary(data["vocab"].data)
        return cls(vocabulary, data["table"], data["scales"], table_identity(header))


@functools.cache
def static_tokens() -> StaticTokens:
    """The packaged table, loaded once per process (memory-mapped: only the rows messages use are read)."""
    return StaticTokens.load()
