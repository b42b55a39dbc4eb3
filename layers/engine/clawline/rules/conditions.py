"""CEL conditions of slots and forms (``valid:``): compiled at load, evaluated over ``value`` and ``slots``.

Unlike rule conditions they see only the value being set and the conversation's slots, so they cannot depend
on NLU and cost one CEL call when a slot is set or a form completes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from clawline.rules import analysis
from clawline.rules.cel import compile_program, new_context

_SLOT_REFERENCE = re.compile(r"\bslots\.([A-Za-z_][A-Za-z0-9_]*)")
#: What a ``valid`` condition can use.
VARIABLES = frozenset({"value", "slots"})


class ConditionError(ValueError):
    pass


class Conditions:
    """Compiled ``valid`` sources, by source text."""

    def __init__(self) -> None:
        self._programs: dict[str, Any] = {}

    def add(self, source: str) -> None:
        """Compile ``source``; raises ``ConditionError`` naming what is wrong."""
        if source in self._programs:
            return
        try:
            program = compile_program(analysis.rewrite_matches(source))
        except (ValueError, RuntimeError) as exc:
            raise ConditionError(f"invalid CEL expression: {str(exc).strip()[:400]}") from exc
        unknown = sorted(frozenset(program.variables()) - VARIABLES - analysis.bound_variables(source))
        if unknown:
            raise ConditionError(f"unknown variable(s) {', '.join(unknown)} in {source!r} (known: slots, value)")
        self._programs[source] = program

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
