"""An intent's name as one more training example: ``check_balance`` teaches "check balance".

A bot author names an intent for what it means, so the name is the one example every intent has that states its
meaning plainly. With ten examples per intent that extra example is worth more than its share: on CLINC150 (10
per intent, seeds 0-2, the ``val`` split) the default backend gains 1.3 points of N-way accuracy (85.5 -> 86.8, on
every seed) and the embedding backend 0.4 (90.9 -> 91.3); BENCHMARKS.md has the 5-seed rows.

The name is added at every fit (each cross-validation fold and the final fit) and is never held out: it is not a
message a user wrote, so the threshold is never calibrated on it. A name without a letter (``"42"``) or one
that is a single letter is skipped, and so is the name of an intent with ``NAMES_BELOW`` examples or more: among
a hundred examples it adds nothing but one more message no user wrote (all of CLINC150, one seed: 94.4% N-way and
74.9% out-of-scope recall with the names, 94.6% and 76.6% without).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

#: Intents with this many examples or more do without their name.
NAMES_BELOW = 50
#: camelCase and PascalCase boundaries: "checkBalance" -> "check Balance", "PTORequest" -> "PTO Request".
#: (Patterns as text, compiled by ``re`` on first use: a classifying cold start imports this module for
#: ``NAMES_BELOW``, part of every fingerprint, and never splits a name.)
_CAMEL = r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])"
#: Separators authors put in names: snake_case, kebab-case, dotted namespaces, slashes.
_SEPARATORS = r"[_\-./:\s]+"


def name_example(intent: str) -> str | None:
    """The example an intent's name stands for ("turn_on" -> "turn on"), or None when it says nothing."""
    text = " ".join(part for part in re.split(_SEPARATORS, re.sub(_CAMEL, " ", intent)) if part).lower()
    letters = sum(ch.isalpha() for ch in text)
    return text if letters >= 2 else None


def name_examples(counts: Mapping[str, int]) -> tuple[list[str], list[str]]:
    """Texts and labels of the name examples of the intents in ``counts`` (intent -> its number of examples): those
    with fewer than ``NAMES_BELOW`` examples and a name that says something."""
    texts, labels = [], []
    for intent, n in sorted(counts.items()):
        text = name_example(intent) if n < NAMES_BELOW else None
        if text is not None:
            texts.append(text)
            labels.append(intent)
    return texts, labels
