"""Property: the rule index may only skip rules that cannot match. Generated rules and messages are evaluated
both ways (naive: every condition through CEL; indexed: candidate lists, Python guards, then CEL when the guards
are not the whole condition) and must agree on every (rule, message) pair and on the rule chosen."""

from __future__ import annotations

import json
import random
from typing import Any

from clawline.bot.models import Rule
from clawline.rules import analysis
from clawline.rules.compiler import CompiledRule, RuleSet, Scope, compile_rule

INTENTS = ["stop", "greet", "order"]
CHANNELS = ["http", "mqtt", "websocket"]
WORDS = ["STOP", "UNSUBSCRIBE", "stop", "Stop", "#12", "#x", "/help", "a", "ab", "b", "ba", "SUB", "U", "", " S"]
PATTERNS = [
    "^STOP|^UNSUBSCRIBE",
    "^S|U",
    "^#[0-9]+$",
    "^(S|U)",
    "^[SU]",
    "(?i)^s",
    "^s?top",
    "^a*b",
    "^a|^b",
    "^ab|",
    "^a(b|c)",
    "^[|]a",
    r"^\|a",
    "^/h",
    "U",
    "^U(?:NSUB|X)|^#",
    "^S[]|]",
]


def _atom(rng: random.Random) -> str:
    kind = rng.randrange(9)
    if kind == 0:
        return f'intent == "{rng.choice(INTENTS)}"'
    if kind == 1:
        return f"intent in {json.dumps(rng.sample(INTENTS, 2))}"
    if kind == 2:
        return f'channel == "{rng.choice(CHANNELS)}"'
    if kind == 3:
        return "has(slots.size)"
    if kind == 4:
        return f"text.matches({json.dumps(rng.choice(PATTERNS))})"
    if kind == 5:
        return f'text.startsWith("{rng.choice(["/", "S", "#1", "UN"])}")'
    if kind == 6:
        return f'text == "{rng.choice(WORDS[:8])}"'
    if kind == 7:
        return "size(text) > 2"
    return 'has(slots.size) && slots.size == "L"'


def _condition(rng: random.Random) -> str:
    shape = rng.randrange(4)
    if shape == 0:
        return _atom(rng)
    if shape == 1:
        return " && ".join(_atom(rng) for _ in range(rng.randint(2, 3)))
    if shape == 2:
        return f"{_atom(rng)} || {_atom(rng)}"
    return f"!({_atom(rng)}) && {_atom(rng)}"


def _message(rng: random.Random) -> dict[str, Any]:
    text = rng.choice(WORDS) + (rng.choice(["", " now", "!"]) if rng.random() < 0.4 else "")
    slots: dict[str, Any] = rng.choice([{}, {"size": "L"}, {"size": "S"}])
    return {"text": text, "intent": rng.choice([*INTENTS, None]), "channel": rng.choice(CHANNELS), "slots": slots}


def _naive(rule: CompiledRule, values: dict[str, Any]) -> bool:
    try:
        return Scope(values.__getitem__).evaluate(rule) is True
    except Exception:  # noqa: BLE001 - the engine treats a condition that cannot be evaluated as false
        return False


def _indexed(rules: RuleSet, rule: CompiledRule, values: dict[str, Any], *, nlu_ran: bool) -> bool:
    text, channel = values["text"], values["channel"]
    intent = values["intent"] if nlu_ran else None
    if rule not in rules.candidates(channel, intent, nlu_ran=nlu_ran, text=text):
        return False
    if nlu_ran and not rule.admits(channel, intent, values["slots"], text):
        return False
    return (nlu_ran and rule.guards.complete) or _naive(rule, values)


def _choose(rules: RuleSet, values: dict[str, Any]) -> tuple[str | None, str | None]:
    naive = next((c.name for c in rules.ordered if _naive(c, values)), None)
    indexed = next((c.name for c in rules.candidates(values["channel"], values["intent"], nlu_ran=True,
                                                     text=values["text"]) if _indexed(rules, c, values, nlu_ran=True)),
                   None)  # fmt: skip
    return naive, indexed


def test_indexed_and_naive_evaluation_agree_on_generated_rules_and_messages():
    rng = random.Random(18)
    compiled = [
        compile_rule(Rule(name=f"r{i}", when=_condition(rng), priority=rng.randrange(3)), i) for i in range(150)
    ]
    rules = RuleSet(compiled)
    messages = [_message(rng) for _ in range(70)]
    pairs = 0
    for rule in rules.ordered:
        for values in messages:
            want = _naive(rule, values)
            got = _indexed(rules, rule, values, nlu_ran=True)
            assert got == want, (rule.rule.when, values)
            if want:
                # Before NLU, the candidate list (channel and first character) must still hold the rule.
                assert rule in rules.candidates(values["channel"], None, nlu_ran=False, text=values["text"]), (
                    rule.rule.when,
                    values,
                )
            pairs += 1
    assert pairs >= 10_000
    # The rule each message gets, over many small rule sets drawn from the same conditions.
    for _ in range(300):
        subset = RuleSet(compile_rule(c.rule, c.order) for c in rng.sample(compiled, 8))
        values = _message(rng)
        naive, indexed = _choose(subset, values)
        assert indexed == naive, ([c.rule.when for c in subset.ordered], values)


def test_an_alternation_of_anchored_prefixes_does_not_fix_the_first_character():
    assert analysis.guards('text.matches("^STOP|^UNSUBSCRIBE")').first_char is None
    assert analysis.guards('text.matches("^S(TOP|UNSUB)")').first_char == "S"
    assert analysis.guards('text.matches("^S[|]x")').first_char == "S"
    rules = RuleSet(
        [
            compile_rule(Rule(name="optout", priority=200, when='text.matches("^STOP|^UNSUBSCRIBE")'), 0),
            compile_rule(Rule(name="other", when="true"), 1),
        ]
    )
    chosen = next(c.name for c in rules.candidates("http", None, nlu_ran=False, text="UNSUBSCRIBE"))
    assert chosen == "optout"
