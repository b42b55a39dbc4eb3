"""CEL conditions of slots and forms (``valid:``): compiled at load, evaluated over ``value`` and ``slots``.

Unlike rule conditions they see only the value being set and the conversation's slots, so they cannot depend
on NLU and cost one CEL call when a slot is set or a form completes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from clawline.rules.cel import DeferredProgram, compile_program, new_context

_SLOT_REFERENCE = re.compile(r"\bslots\.([A-Za-z_][A-Za-z0-9_]*)")
#: What a ``valid`` condition can use.
VARIABLES = frozenset({"value", "slots"})


class ConditionError(ValueError):
    pass


class Conditions:
    """Compiled ``valid`` sources, by source text."""

    def __init__(self) -> None:
        self._programs: dict[str, Any] = {}
        #: The source CEL compiled for each condition (``matches`` rewritten), by condition source.
        self.cel_sources: dict[str, str] = {}

    def add(self, source: str, cel_source: str | None = None) -> None:
        """Compile ``source``; raises ``ConditionError`` naming what is wrong. ``cel_source``: what compiling it
        gave when the bot was packaged (``clawline.bot.prebuilt``), compiled on the condition's first use."""
        if source in self._programs:
            return
        if cel_source is not None:
            self._programs[source] = DeferredProgram(cel_source)
            self.cel_sources[source] = cel_source
            return
        from clawline.rules import analysis  # a bot loaded prebuilt never needs it

        cel_source = analysis.rewrite_matches(source)
        try:
            program = compile_program(cel_source)
        except (ValueError, RuntimeError) as exc:
            raise ConditionError(f"invalid CEL expression: {str(exc).strip()[:400]}") from exc
        unknown = sorted(frozenset(program.variables()) - VARIABLES - analysis.bound_variables(source))
        if unknown:
            raise ConditionError(f"unknown variable(s) {', '.join(unknown)} in {source!r} (known: slots, value)")
        self._programs[source] = program
        self.cel_sources[source] = cel_source

    def slots_of(self, source: str) -> frozenset[str]:
        """The slots a condition names (``slots.x``): it can be evaluated once they are all filled."""
        return frozenset(_SLOT_REFERENCE.findall(source))

    def check(self, source: str, value: Any, slots: Mapping[str, Any]) -> bool:
        """True only if the condition evaluates to true (an error, such as a missing slot, is false)."""
        context = new_context()
        context.add_variable("value", value)
        context.add_variable("slots", dict(slots))
        try:
            return self._programs[source].execute(context) is True
        except Exception:  # noqa: BLE001 - CEL raises plain errors; a condition that cannot be evaluated is false
            return False
