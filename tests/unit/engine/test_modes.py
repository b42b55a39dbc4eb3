"""Modes decide when NLU runs: rules (never by itself), nlu (always), hybrid (only when needed)."""

from __future__ import annotations

from .helpers import BASE, ScriptedNlu, make_engine, say

BOT = (
    BASE
    + """
intents:
  greet: {examples: [hi]}
  thanks: {examples: [thanks]}
responses:
  thanks: ["You're welcome"]
  ping: [pong]
rules:
  - name: ping
    priority: 10
    when: text == "ping"
    then: [{reply: ping}]
  - name: greet
    when: intent == "greet"
    then: [{reply: hello}]
"""
)
TABLE = {"hi": ("greet", 0.95), "thanks": ("thanks", 0.9), "ping": ("greet", 0.2)}


def test_hybrid_does_not_run_nlu_when_a_rule_without_intent_answers(tmp_path):
    nlu = ScriptedNlu(TABLE)
    reply = say(make_engine(tmp_path, BOT, nlu=nlu), "ping")
    assert reply.texts == ["pong"]
    assert nlu.calls == []
    assert reply.intent is None
    assert reply.confidence is None


def test_hybrid_runs_nlu_when_a_rule_needs_the_intent(tmp_path):
    nlu = ScriptedNlu(TABLE)
    reply = say(make_engine(tmp_path, BOT, nlu=nlu), "hi")
    assert reply.texts == ["Hello!"]
    assert (reply.intent, reply.confidence) == ("greet", 0.95)
    assert nlu.calls == ["hi"]


def test_hybrid_fallback_answers_with_the_response_named_like_the_intent(tmp_path):
    reply = say(make_engine(tmp_path, BOT, nlu=ScriptedNlu(TABLE)), "thanks")
    assert reply.texts == ["You're welcome"]
    assert reply.trace == ["intent:thanks"]


def test_out_of_scope_message_gets_the_fallback(tmp_path):
    reply = say(make_engine(tmp_path, BOT, nlu=ScriptedNlu(TABLE)), "what is the weather")
    assert reply.texts == ["Sorry?"]
    assert reply.intent is None
    assert reply.trace == ["fallback"]


def test_nlu_mode_runs_nlu_on_every_message(tmp_path):
    nlu = ScriptedNlu(TABLE)
    reply = say(make_engine(tmp_path, BOT.replace("mode: hybrid", "mode: nlu"), nlu=nlu), "ping")
    assert reply.texts == ["pong"]
    assert nlu.calls == ["ping"]
    assert reply.intent == "greet"


def test_rules_mode_never_runs_nlu_by_itself(tmp_path):
    nlu = ScriptedNlu(TABLE)
    engine = make_engine(tmp_path, BOT.replace("mode: hybrid", "mode: rules"), nlu=nlu)
    assert say(engine, "hi").texts == ["Sorry?"]
    assert say(engine, "thanks").texts == ["Sorry?"]
    assert nlu.calls == []


def test_default_mode_is_hybrid(tmp_path):
    nlu = ScriptedNlu(TABLE)
    engine = make_engine(tmp_path, BOT.replace("settings: {mode: hybrid}\n", ""), nlu=nlu)
    assert engine.bot.settings.mode.value == "hybrid"
    say(engine, "ping")
    assert nlu.calls == []


def test_nlu_runs_at_most_once_per_message(tmp_path):
    bot = BOT + "  - {name: conf, when: 'confidence > 0.99', then: [{reply: hello}]}\n"
    nlu = ScriptedNlu(TABLE)
    say(make_engine(tmp_path, bot, nlu=nlu), "thanks")
    assert nlu.calls == ["thanks"]
