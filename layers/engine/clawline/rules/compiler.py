"""Compile a bot's rules once per cold start and index them.

Index: rules are kept in priority order (higher first, then file order). For each (intent, channel) pair the
candidate list holds only rules whose guards (see ``analysis``) allow that intent and channel; it is built on
first use and cached, so a message walks a short list instead of a thousand conditions.
"""

from __future__ import annotations

import dataclasses
import heapq
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from clawline.bot.models import Rule
from clawline.rules.cel import DeferredProgram, compile_program, compiled_pattern, new_context
from clawline.rules.guards import Guards

#: Variables a ``when`` can use; docs/bots.md documents each.
VARIABLES = frozenset(
    {
        "text",
        "message",
        "attachments",
        "channel",
        "sender",
        "conversation_id",
        "intent",
        "confidence",
        "entities",
        "nlu",
        "slots",
        "form",
        "last_intents",
        "last_intent",
        "turns",
        "turn_count",
        "summary",
        "is_new",
        "now",
        "hour",
        "weekday",
        "plugins",
    }
)
#: Using any of these makes a rule need NLU (in hybrid mode, NLU runs when such a rule is reached).
NLU_VARIABLES = frozenset({"intent", "confidence", "entities", "nlu"})
FUNCTIONS = frozenset(
    {
        "size",
        "contains",
        "startsWith",
        "endsWith",
        "clawline_matches",
        "matches",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "bool",
        "timestamp",
        "duration",
        "type",
        "dyn",
        "max",
        "min",
        "has",
        "getFullYear",
        "getMonth",
        "getDayOfYear",
        "getDayOfMonth",
        "getDate",
        "getDayOfWeek",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)


class RuleCompileError(ValueError):
    """A rule's condition is wrong; ``field`` is the rule field at fault."""

    def __init__(self, message: str, field: str = "when") -> None:
        super().__init__(message)
        self.field = field


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class RuleAnalysis(NamedTuple):
    """What compiling a rule's condition finds besides its CEL program. ``clawline package`` keeps it in the bot's
    prebuilt definition (``clawline.bot.prebuilt``), so a cold start neither analyses nor compiles the conditions
    again: each program is compiled on its first evaluation (``DeferredProgram``), and many turns need none."""

    #: The source CEL compiles (``matches`` rewritten, ``clawline.rules.analysis.rewrite_matches``).
    cel_source: str
    variables: frozenset[str]
    guards: Guards
    first_char: str | None


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """A rule ready to evaluate: its CEL program, the variables it reads and the guards that index it."""

    rule: Rule
    order: int
    program: Any
    variables: frozenset[str]
    needs_nlu: bool
    guards: Guards
    always: bool
    patterns: tuple[re.Pattern[str], ...] = ()
    first_char: str | None = None
    #: The rewritten source ``program`` was compiled from.
    cel_source: str = ""

    @property
    def analysis(self) -> RuleAnalysis:
        return RuleAnalysis(self.cel_source, self.variables, self.guards, self.first_char)

    @property
    def name(self) -> str:
        return self.rule.name

    def admits(self, channel: str, intent: str | None, slots: Mapping[str, Any], text: str) -> bool:
        """The guards, checked in Python: False means the condition cannot be true (NLU has run if needed)."""
        g = self.guards
        if g.channels is not None and channel not in g.channels:
            return False
        if g.intents is not None and intent not in g.intents:
            return False
        if g.required_slots and not g.required_slots <= slots.keys():
            return False
        if g.text_equals is not None and text != g.text_equals:
            return False
        if g.text_prefixes and not all(text.startswith(p) for p in g.text_prefixes):
            return False
        return all(p.search(text) is not None for p in self.patterns)


def compile_rule(rule: Rule, order: int = 0, analysed: RuleAnalysis | None = None) -> CompiledRule:
    """Compile and check ``rule``'s condition, or, given what compiling it found already (``analysed``: the prebuilt
    definition's), build the rule from that, its CEL program compiled on first use."""
    source = rule.when.strip()
    if analysed is None:
        program, analysed = _analyse(source)
    else:
        program = DeferredProgram(analysed.cel_source)
    guards = analysed.guards
    try:
        patterns = tuple(compiled_pattern(p) for p in guards.text_patterns)
    except re.error as exc:
        raise RuleCompileError(f"invalid regular expression in matches(): {exc}") from exc
    return CompiledRule(
        rule=rule,
        order=order,
        program=program,
        variables=analysed.variables,
        needs_nlu=bool(analysed.variables & NLU_VARIABLES),
        guards=guards,
        always=source == "true",
        patterns=patterns,
        first_char=analysed.first_char,
        cel_source=analysed.cel_source,
    )


def _analyse(source: str) -> tuple[Any, RuleAnalysis]:
    """Check a condition's regular expressions, compile it and find its guards; raises ``RuleCompileError``."""
    from clawline.rules import analysis  # a bot loaded prebuilt never needs it (RuleAnalysis)

    for pattern in analysis.literal_patterns(source):
        try:
            re.compile(pattern)
        except re.error as exc:
            raise RuleCompileError(f"invalid regular expression {pattern!r} in matches(): {exc}") from exc
        if analysis.risky_pattern(pattern):
            raise RuleCompileError(
                f"regular expression {pattern!r} nests quantifiers (like (a+)+): a crafted message could make it "
                "backtrack for a very long time; rewrite it without a quantified group that contains a quantifier"
            )
    cel_source = analysis.rewrite_matches(source)
    try:
        program = compile_program(cel_source)
    except (ValueError, RuntimeError) as exc:
        raise RuleCompileError(f"invalid CEL expression: {_first_line(exc)}") from exc
    variables = frozenset(program.variables()) - analysis.bound_variables(source)
    unknown = sorted(variables - VARIABLES)
    if unknown:
        raise RuleCompileError(
            f"unknown variable(s) {', '.join(unknown)} in {source!r} (known: {', '.join(sorted(VARIABLES))})"
        )
    functions = sorted(f for f in program.functions() if f[:1].isalpha() and f not in FUNCTIONS)
    if functions:
        shown = ", ".join(f.replace("clawline_matches", "matches") for f in functions)
        raise RuleCompileError(f"unknown function(s) {shown} in {source!r}")
    guards = analysis.guards(source)
    return program, RuleAnalysis(cel_source, variables, guards, guards.first_char)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.replace("\n", " ") if len(text) < 400 else text[:400] + "..."


class RuleSet:
    """Compiled rules in priority order, with the per-(intent, channel) candidate index."""

    def __init__(self, compiled: Iterable[CompiledRule]) -> None:
        ordered = sorted(compiled, key=lambda c: (-c.rule.priority, c.order))
        self.ordered: tuple[CompiledRule, ...] = tuple(dataclasses.replace(c, order=i) for i, c in enumerate(ordered))
        self.by_name = {c.name: c for c in self.ordered}
        self.interrupting = tuple(c for c in self.ordered if c.rule.interrupt)
        self._any_intent = tuple(c for c in self.ordered if c.guards.intents is None)
        self._by_intent: dict[str, list[CompiledRule]] = {}
        for c in self.ordered:
            for name in c.guards.intents or ():
                self._by_intent.setdefault(name, []).append(c)
        self._first_chars = frozenset(c.first_char for c in self.ordered if c.first_char is not None)
        self._cache: dict[tuple[str, str | None, bool, str], tuple[CompiledRule, ...]] = {}

    def __len__(self) -> int:
        return len(self.ordered)

    def candidates(
        self, channel: str, intent: str | None, *, nlu_ran: bool, text: str = ""
    ) -> tuple[CompiledRule, ...]:
        """Rules that can match a message on ``channel``: before NLU, every rule; after it, those that allow
        ``intent`` (rules without an intent guard allow any). Rules whose text guards fix the first character
        (``text.matches("^#...")``, ``text.startsWith("/")``) are listed only for messages starting with it."""
        first = text[:1] if text[:1] in self._first_chars else ""
        key = (channel, intent, nlu_ran, first)
        found = self._cache.get(key)
        if found is None:
            pool = self._for_intent(intent) if nlu_ran else self.ordered
            found = tuple(c for c in pool if _allows(c, channel, intent, nlu_ran, first))
            # Bounded: channels x (intents + 1) x (distinct first characters + 1) lists at most.
            self._cache[key] = found
        return found

    def _for_intent(self, intent: str | None) -> tuple[CompiledRule, ...]:
        """Rules for ``intent`` plus the rules without an intent guard, in priority order (a short merge)."""
        specific = self._by_intent.get(intent, ()) if intent is not None else ()
        return tuple(heapq.merge(specific, self._any_intent, key=lambda c: c.order))


def _allows(rule: CompiledRule, channel: str, intent: str | None, nlu_ran: bool, first: str) -> bool:
    guards = rule.guards
    if guards.channels is not None and channel not in guards.channels:
        return False
    if rule.first_char is not None and rule.first_char != first:
        return False
    return not (nlu_ran and guards.intents is not None and intent not in guards.intents)


class Scope:
    """The variables of one turn, converted to CEL lazily: only those the evaluated rules use.

    Converting a value into CEL costs microseconds per element (a 10-turn window is ~0.2 ms), so each variable
    is added to the context the first time a rule needs it, and re-added only after it changed.
    """

    __slots__ = ("_loaded", "_resolve", "context")

    def __init__(self, resolve: Callable[[str], Any]) -> None:
        #: Created on the first CEL call: many turns are decided by Python guards alone.
        self.context: Any = None
        self._resolve = resolve
        self._loaded: set[str] = set()

    def invalidate(self, *names: str) -> None:
        self._loaded.difference_update(names)

    def evaluate(self, rule: CompiledRule) -> Any:
        if rule.always:
            return True
        if self.context is None:
            self.context = new_context()
        missing = rule.variables - self._loaded
        if missing:
            for name in missing:
                self.context.add_variable(name, self._resolve(name))
            self._loaded.update(missing)
        return rule.program.execute(self.context)
