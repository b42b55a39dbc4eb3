"""Entity roles: which of two ``account`` entities in "move 50 from savings to checking" is the source.

A slot with ``role: from`` takes only an entity in that role. NLU reports entities without roles; the role is
read from the words written just before the value: the role's own name ("from savings", "to checking") and the
words that precede values annotated with that role in the bot's examples
(``out of [savings]{"entity": "account", "role": "from"}`` teaches "out of").

Examples
--------
>>> cues = RoleCues.from_intents({"move": ['move it out of [savings]{"entity": "account", "role": "from"}']})
>>> from clawline.messages import Entity
>>> text = "take 50 out of checking"
>>> cues.role_of(Entity(entity="account", value="checking", text="checking", start=15, end=23), text)
'from'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

from clawline.messages import Entity

_WORDS_BEFORE = re.compile(r"(\w+)\W+(?:(\w+)\W+)?$")


def _cues_before(text: str) -> tuple[str, ...]:
    """The last word and the last two words before the end of ``text``, lower-cased ("out of", "of")."""
    found = _WORDS_BEFORE.search(text[-80:])
    if found is None:
        return ()
    first, second = found.group(1).lower(), (found.group(2) or "").lower()
    return (second, f"{first} {second}") if second else (first,)


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class RoleCues(NamedTuple):
    """Words that introduce an entity's value in a role ("from", "to"), learnt from annotated examples."""

    #: entity -> role -> words that introduce a value in that role (the role's name always does).
    cues: Mapping[str, Mapping[str, frozenset[str]]] = MappingProxyType({})

    @classmethod
    def from_intents(cls, intents: Mapping[str, Sequence[str]]) -> RoleCues:
        from clawline.nlu.annotations import AnnotationError, parse_annotated

        cues: dict[str, dict[str, set[str]]] = {}
        for examples in intents.values():
            for example in examples:
                if '"role"' not in example:
                    continue
                try:
                    parsed = parse_annotated(example)
                except AnnotationError:
                    continue  # reported by validation; roles just learn nothing from it
                for ann in parsed.entities:
                    if ann.role:
                        words = cues.setdefault(ann.entity, {}).setdefault(ann.role, set())
                        words.update(_cues_before(parsed.text[: ann.start]))
        return cls({e: {r: frozenset(w) for r, w in roles.items()} for e, roles in cues.items()})

    def role_of(self, entity: Entity, text: str) -> str | None:
        """The role ``entity`` plays in ``text``: declared by the NLU, or introduced by a cue word."""
        declared = getattr(entity, "role", None)
        if isinstance(declared, str) and declared:
            return declared
        before = _cues_before(text[: entity.start])
        if not before:
            return None
        for role, words in self.cues.get(entity.entity, {}).items():
            if any(b in words for b in before):
                return role
        # Without examples, a role is introduced by its own name ("from savings", "to checking").
        return before[0] if len(before[0].split()) == 1 else before[0].split()[-1]
