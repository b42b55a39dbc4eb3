"""The rule index and condition analysis: skipping rules must never change which rule answers."""

from __future__ import annotations

import random

import pytest

from clawline.bot.models import Rule
from clawline.rules import analysis
from clawline.rules.cel import clawline_matches, compiled_pattern
from clawline.rules.compiler import RuleCompileError, RuleSet, compile_rule

from .helpers import BASE, ScriptedNlu, make_engine, say


@pytest.mark.parametrize(
    ("source", "intents", "channels", "slots", "complete"),
    [
        ('intent == "greet"', {"greet"}, None, set(), True),
        ('"greet" == intent && channel == "mqtt"', {"greet"}, {"mqtt"}, set(), True),
        ('(intent in ["a", "b"]) && has(slots.size) && slots.size == "L"', {"a", "b"}, None, {"size"}, False),
        ('intent == "a" || intent == "b"', None, None, set(), False),
        ('intent == "a" ? true : false', None, None, set(), False),
        ('text.contains("&& intent == \\"x\\"")', None, None, set(), False),
        ('message.channel == "http" && intent == "x" && intent == "y"', frozenset(), {"http"}, set(), True),
    ],
)
def test_guards_are_derived_only_from_top_level_conjuncts(source, intents, channels, slots, complete):
    guards = analysis.guards(source)
    assert guards.intents == (frozenset(intents) if intents is not None else None)
    assert guards.channels == (frozenset(channels) if channels is not None else None)
    assert guards.required_slots == frozenset(slots)
    assert guards.complete is complete


def test_text_guards_fix_the_first_character_only_when_every_match_starts_with_it():
    assert analysis.guards('text.matches("^#[0-9]+$")').first_char == "#"
    assert analysis.guards('text.startsWith("/help")').first_char == "/"
    assert analysis.guards('text == "ping"').first_char == "p"
    assert analysis.guards('text.matches("^#?[0-9]+$")').first_char is None
    assert analysis.guards('text.matches("(?i)^p")').first_char is None
    assert analysis.guards('text.matches("#[0-9]")').first_char is None


def test_only_literal_matches_patterns_go_to_the_cached_regex_function():
    source = 'text.matches("matches(") && text.matches(slots.p) && matches(text, "x")'
    assert analysis.rewrite_matches(source) == (
        'text.clawline_matches("matches(") && text.matches(slots.p) && matches(text, "x")'
    )


@pytest.mark.parametrize(
    ("pattern", "risky"),
    [
        ("(a+)+$", True),
        (r"(\w+\s?)*$", True),
        ("([a-z]+)*", True),
        ("^#[0-9]+$", False),
        ("(ab)+", False),
        (r"(\d{1,3}\.){3}\d{1,3}", False),
        ("[(]+)+", False),
    ],
)
def test_patterns_that_can_backtrack_exponentially_are_recognised(pattern, risky):
    assert analysis.risky_pattern(pattern) is risky


def test_a_rule_with_a_catastrophic_regex_is_refused_at_load():
    with pytest.raises(RuleCompileError, match="nests quantifiers"):
        compile_rule(Rule(name="r", when='text.matches("^(a+)+$")'))


def test_a_pattern_computed_at_run_time_still_matches_through_cel():
    bot_rule = compile_rule(Rule(name="r", when="text.matches(slots.p)"))
    from clawline.rules.compiler import Scope

    values = {"text": "order 42", "slots": {"p": "[0-9]+"}}
    assert Scope(values.__getitem__).evaluate(bot_rule) is True


def test_the_cached_matches_searches_like_cel_and_reuses_the_compiled_pattern():
    assert clawline_matches("order #1234 now", "#[0-9]{4}")
    assert not clawline_matches("order 1234", "^#")
    assert compiled_pattern("a+b") is compiled_pattern("a+b")
    with pytest.raises(TypeError):
        clawline_matches(3, "x")


def test_bad_expression_errors_carry_the_cel_message():
    with pytest.raises(RuleCompileError, match=r"invalid CEL expression: .*Syntax error"):
        compile_rule(Rule(name="r", when="intent == "))


def test_candidates_for_an_intent_exclude_rules_for_other_intents_and_channels():
    rules = RuleSet(
        compile_rule(Rule(name=n, when=w), i)
        for i, (n, w) in enumerate(
            [
                ("a_http", 'intent == "a" && channel == "http"'),
                ("a_mqtt", 'intent == "a" && channel == "mqtt"'),
                ("b", 'intent == "b"'),
                ("any", "size(text) > 3"),
                ("hash", 'text.matches("^#")'),
            ]
        )
    )
    names = [c.name for c in rules.candidates("http", "a", nlu_ran=True, text="hello")]
    assert names == ["a_http", "any"]
    assert [c.name for c in rules.candidates("http", "a", nlu_ran=True, text="#1")] == ["a_http", "any", "hash"]
    assert [c.name for c in rules.candidates("mqtt", None, nlu_ran=True, text="x")] == ["any"]


INDEX_BOT = (
    BASE
    + """
intents:
  a: {examples: [a]}
  b: {examples: [b]}
slots:
  size: {values: [small, large]}
responses:
  r1: [r1]
  r2: [r2]
  r3: [r3]
  r4: [r4]
  r5: [r5]
  r6: [r6]
rules:
  - {name: hash, priority: 9, when: 'text.matches("^#[0-9]+$")', then: [{reply: r1}]}
  - {name: a_mqtt, priority: 5, when: 'intent == "a" && channel == "mqtt"', then: [{reply: r2}]}
  - {name: a_large, when: 'intent == "a" && has(slots.size) && slots.size == "large"', then: [{reply: r3}]}
  - {name: b_conf, when: 'intent in ["b"] && confidence > 0.7', then: [{reply: r4}]}
  - {name: set, when: 'text == "large"', then: [{set_slot: {size: large}}, {reply: r5}]}
  - {name: either, priority: -1, when: 'intent == "a" || text.startsWith("/")', then: [{reply: r6}]}
"""
)


def test_indexed_and_naive_engines_answer_every_message_the_same(tmp_path):
    rng = random.Random(3)
    table = {"a": ("a", 0.9), "b": ("b", 0.8), "b?": ("b", 0.5), "#12": ("a", 0.4), "/x": (None, 0.1)}
    texts = [*table, "large", "#x", "other"]
    indexed = make_engine(tmp_path / "i", INDEX_BOT, nlu=ScriptedNlu(table))
    naive = make_engine(tmp_path / "n", INDEX_BOT, nlu=ScriptedNlu(table), indexed=False)
    for _ in range(200):
        text, channel = rng.choice(texts), rng.choice(["http", "mqtt", "websocket"])
        conversation = f"c{rng.randrange(3)}"
        got = say(indexed, text, channel=channel, conversation=conversation)
        want = say(naive, text, channel=channel, conversation=conversation)
        assert (got.texts, got.slots, got.trace) == (want.texts, want.slots, want.trace), (text, channel)


def test_a_message_only_evaluates_conditions_of_rules_that_can_match(tmp_path, monkeypatch):
    from clawline.rules.compiler import Scope

    evaluated: list[str] = []
    original = Scope.evaluate

    def spy(self, rule):
        evaluated.append(rule.name)
        return original(self, rule)

    monkeypatch.setattr(Scope, "evaluate", spy)
    engine = make_engine(tmp_path, INDEX_BOT, nlu=ScriptedNlu({"b": ("b", 0.9)}))
    assert say(engine, "b", channel="http").texts == ["r4"]
    # Only b_conf needs CEL: hash/a_mqtt/a_large are skipped by the index, `either` is never reached.
    assert evaluated == ["b_conf"]
