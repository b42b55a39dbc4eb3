"""Personal data is gone before NLU, rules and storage see the message."""

from __future__ import annotations

from clawline.store.memory import InMemoryConversationStore
from tests.unit.engine.helpers import ScriptedNlu, make_engine, say

BOT = """
name: bank
plugins:
  - {module: plugins.pii_redact, class: PiiRedactPlugin, config: {notice: "I removed personal details."}}
rules:
  - {name: echo, when: "true", then: [{reply: echo}]}
responses:
  echo: ["You said: {text}"]
"""


def test_nlu_rules_and_the_stored_turn_see_only_the_redacted_text(tmp_path):
    store = InMemoryConversationStore()
    nlu = ScriptedNlu({})
    engine = make_engine(tmp_path / "bot", BOT, nlu=nlu, store=store)
    text = "mail me at ana@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958"
    reply = say(engine, text)
    assert reply.texts[0] == "I removed personal details."
    echoed = reply.texts[1]
    assert "ana@example.com" not in echoed and "4111" not in echoed and "7946" not in echoed
    assert "[EMAIL]" in echoed and "[CARD]" in echoed and "[PHONE]" in echoed
    [stored] = store.list_turns("c1", "u1").turns
    assert "ana@example.com" not in stored.user_text and "[EMAIL]" in stored.user_text


def test_nlu_never_sees_the_original(tmp_path):
    nlu = ScriptedNlu({})
    text = BOT.replace('rules:\n  - {name: echo, when: "true", then: [{reply: echo}]}', "")
    engine = make_engine(tmp_path / "bot", text.replace("name: bank", "name: bank\nsettings: {mode: nlu}"), nlu=nlu)
    say(engine, "my email is bob@example.org")
    assert nlu.calls == ["my email is [EMAIL]"]


def test_a_message_without_personal_data_is_untouched(tmp_path):
    engine = make_engine(tmp_path / "bot", BOT)
    assert say(engine, "what are your rates?").texts == ["You said: what are your rates?"]
