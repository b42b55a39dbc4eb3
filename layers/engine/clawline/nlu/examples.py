"""An intent's examples as the plain text a model learns, with their entity annotations parsed only when there are any.

Most examples carry no markup: ``split_examples`` and ``plain_text`` return them as they are, without importing the
annotation parser (``annotations``) or building its models, which a classifying cold start would otherwise pay for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clawline.nlu.annotations import Annotation

#: Every annotation starts with it (``[Paris](city)``): an example without it is its own plain text.
_MARKUP = "["


def plain_text(example: str) -> str:
    """``parse_annotated(example).text``: the example without its entity markup."""
    if _MARKUP not in example:
        return example
    from clawline.nlu.annotations import parse_annotated

    return parse_annotated(example).text


def split_examples(intents: Mapping[str, Sequence[str]]) -> tuple[dict[str, list[str]], list[Annotation]]:
    """Plain-text examples per intent, and every entity annotation found in them."""
    plain: dict[str, list[str]] = {}
    annotations: list[Annotation] = []
    for intent, examples in intents.items():
        for example in examples:
            if _MARKUP not in example:
                plain.setdefault(intent, []).append(example)
                continue
            from clawline.nlu.annotations import parse_annotated

            parsed = parse_annotated(example)
            plain.setdefault(intent, []).append(parsed.text)
            annotations.extend(parsed.entities)
    return plain, annotations
