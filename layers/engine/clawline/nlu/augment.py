"""Training-time augmentation for intents with few examples: neighbour-word copies of each example.

Ten examples of ``transfer_money`` rarely contain "transferring", "funds" and "cash" all at once; the users do. Each
example of an intent with fewer than ``AugmentConfig.below`` examples gets ``copies`` more versions in which up to
``swaps`` words are replaced by one of their nearest neighbours in the static MiniLM token table
(``clawline.nlu.static``: "transfer" -> "transferring", "cash" -> "money", "flight" -> "flights"), where the two
rows' cosine is at least ``min_cosine``. The n-grams of a neighbour get weight in the intent's column, which ten
examples cannot give them. Only training changes: a parse costs the same (the model has a few more n-gram rows).

Only whole-word, alphabetic tokens of the table's vocabulary swap, and not the ``SKIP_MOST_FREQUENT`` most frequent
ones ("the", "my", "what", "to": the vocabulary is ordered by frequency), which carry a sentence's syntax rather than
its intent. Out-of-scope examples are never augmented. Deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from clawline.nlu.features import F32, words

if TYPE_CHECKING:
    from clawline.nlu.static import StaticEmbeddings
    from clawline.nlu.training import IntentData

#: BERT's uncased vocabulary: ids before this are specials, unused slots and single characters; "the" is here.
FIRST_WORD_ID = 1996
#: The most frequent words (function words) keep their place in a copy.
SKIP_MOST_FREQUENT = 100
#: Neighbours kept per word (a copy picks one of them at random).
NEIGHBOURS = 3
_CHUNK = 512


@dataclass(frozen=True)
class AugmentConfig:
    """Measured on CLINC150's validation split (BENCHMARKS.md, few-shot section)."""

    #: Intents with fewer examples than this get copies (at 30 the default backend is near its full-data accuracy).
    below: int = 30
    copies: int = 2
    swaps: int = 2
    min_cosine: float = 0.7


def neighbours(vocabulary: Sequence[str], static: StaticEmbeddings, min_cosine: float) -> dict[str, list[str]]:
    """Each swappable word of ``vocabulary`` -> up to ``NEIGHBOURS`` table neighbours at ``min_cosine`` or more."""
    tokens = static.tokenizer.vocab
    candidate_ids = np.array(
        [i for token, i in tokens.items() if i >= FIRST_WORD_ID + SKIP_MOST_FREQUENT and _swappable(token)], np.int64
    )
    if not len(candidate_ids):
        return {}
    candidate_ids.sort()
    names = sorted(tokens, key=tokens.__getitem__)
    candidates = _unit_rows(static, candidate_ids)
    asked = sorted({w for w in vocabulary if _swappable(w) and tokens.get(w, -1) >= FIRST_WORD_ID + SKIP_MOST_FREQUENT})
    found: dict[str, list[str]] = {}
    for start in range(0, len(asked), _CHUNK):
        chunk = asked[start : start + _CHUNK]
        cosine = _unit_rows(static, np.array([tokens[w] for w in chunk], np.int64)) @ candidates.T
        best = np.argsort(-cosine, axis=1)[:, : NEIGHBOURS + 1]
        for row, word in enumerate(chunk):
            near = [
                names[int(candidate_ids[j])]
                for j in best[row]
                if cosine[row, j] >= min_cosine and names[int(candidate_ids[j])] != word
            ][:NEIGHBOURS]
            if near:
                found[word] = near
    return found


def augment(data: IntentData, config: AugmentConfig, static: StaticEmbeddings, seed: int) -> IntentData:
    """``data`` plus neighbour-word copies of the examples of its thin intents (see the module docstring)."""
    from clawline.nlu.linear import OOS_LABEL
    from clawline.nlu.training import IntentData

    counts: dict[str, int] = {}
    for label in data.labels:
        counts[label] = counts.get(label, 0) + 1
    rows = [i for i, label in enumerate(data.labels) if label != OOS_LABEL and counts[label] < config.below]
    if not rows or config.copies <= 0:
        return data
    tokenized = {i: words(data.texts[i]) for i in rows}
    near = neighbours(sorted({w for ws in tokenized.values() for w in ws}), static, config.min_cosine)
    rng = np.random.default_rng(seed)
    texts, labels = list(data.texts), list(data.labels)
    for i in rows:
        tokens = tokenized[i]
        swappable = [j for j, w in enumerate(tokens) if w in near]
        if not swappable:
            continue
        made = {" ".join(tokens)}
        for _ in range(config.copies):
            copy = list(tokens)
            for j in rng.choice(swappable, min(config.swaps, len(swappable)), replace=False):
                options = near[tokens[j]]
                copy[j] = options[int(rng.integers(len(options)))]
            text = " ".join(copy)
            if text not in made:  # the same copy twice would only weigh the example more
                made.add(text)
                texts.append(text)
                labels.append(data.labels[i])
    return IntentData(texts, labels)


def _swappable(token: str) -> bool:
    return len(token) >= 3 and token.isalpha() and token.isascii()


def _unit_rows(static: StaticEmbeddings, ids: np.ndarray) -> F32:
    # Each int8 row has its own positive scale, which a cosine ignores: normalize the raw rows.
    rows = static.table.take(ids, axis=0).astype(np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit: F32 = rows / np.maximum(norms, 1e-9)
    return unit
