"""What must hold before a rule's condition can be true: the index keys ``clawline.rules.analysis`` finds.

Its own module, without the analysis's regular expressions: a bot loaded from its prebuilt definition
(``clawline.bot.prebuilt``) carries its rules' guards already found, and unpickling them imports only this.
"""

from __future__ import annotations

from typing import NamedTuple


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class Guards(NamedTuple):
    """What must hold before a condition can be true (``None``: no constraint).

    Checking these in Python costs a fraction of a CEL call (a regex through CEL's function callback costs
    microseconds); when ``complete`` is true the guards are the whole condition and CEL is not called at all.
    """

    intents: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    required_slots: frozenset[str] = frozenset()
    #: ``text.matches("...")`` patterns, ``text.startsWith("...")`` prefixes, ``text == "..."``.
    text_patterns: tuple[str, ...] = ()
    text_prefixes: tuple[str, ...] = ()
    text_equals: str | None = None
    complete: bool = False

    @property
    def first_char(self) -> str | None:
        """The character a message must start with for the condition to be true, if the guards fix one."""
        if self.text_equals is not None:
            return self.text_equals[:1] or None
        for prefix in self.text_prefixes:
            if prefix:
                return prefix[0]
        if not self.text_patterns:
            return None
        from clawline.rules.analysis import anchored_first_char

        for pattern in self.text_patterns:
            found = anchored_first_char(pattern)
            if found is not None:
                return found
        return None
