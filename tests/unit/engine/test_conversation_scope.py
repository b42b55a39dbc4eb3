"""Which conversation a message without a conversation id continues (``settings.conversation_scope``), the user
profile (``scope: user`` slots) and the rolling summary, through the engine and the in-memory store (the DynamoDB
store keeps the same contract: tests/functional/test_conversation_store_contract.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from clawline.conversation import Turn
from clawline.conversation_scope import ConversationIdRequiredError
from clawline.engine import Engine
from clawline.store.memory import InMemoryConversationStore
from clawline.summary import MAX_CHARS, extractive
from tests.helpers.plugins import manifest, write_manifest

from .helpers import BASE, ScriptedNlu, make_engine, message

BOT = (
    BASE
    + """
slots:
  name: {type: text, scope: user}
  topic: {type: text}
responses:
  named: ["Nice to meet you, {slots.name}."]
  greet_named: ["Hello again, {slots.name}."]
  count: ["turn {turn_count}"]
  recap: ["{summary}"]
rules:
  - {name: name, when: 'text.startsWith("I am ")', then: [{set_slot: {name: "{text}"}}, {reply: named}]}
  - {name: forget, when: 'text == "forget me"', then: [{clear_slot: name}, {reply: count}]}
  - {name: topic, when: 'text.startsWith("about ")', then: [{set_slot: {topic: "{text}"}}, {reply: count}]}
  - {name: recap, when: 'text == "recap"', then: [{reply: recap}]}
  - {name: known, when: 'has(slots.name)', then: [{reply: greet_named}]}
  - {name: count, when: "true", then: [{reply: count}]}
"""
)


def engine_for(tmp_path: Path, scope: str = "per_user", store: Any = None) -> Engine:
    text = BOT.replace("settings: {mode: hybrid}", f"settings: {{mode: hybrid, conversation_scope: {scope}}}")
    return make_engine(tmp_path, text, nlu=ScriptedNlu({}), store=store)


def send(engine: Engine, text: str, *, channel: str = "http", conversation: str | None = None, user: str = "ann"):
    default = {"http": "per-request", "websocket": "per-socket", "mqtt": "per-device"}[channel]
    msg = message(
        text,
        channel=channel,
        conversation=conversation or default,
        sender=user,
        owner=f"user:{user}",
        conversation_given=conversation is not None,
    )
    return asyncio.run(engine.handle(msg))


def test_per_user_continues_the_users_latest_conversation_on_every_channel(tmp_path: Path) -> None:
    engine = engine_for(tmp_path)
    first = send(engine, "hi", channel="http")
    assert send(engine, "hi", channel="websocket").conversation_id == first.conversation_id
    third = send(engine, "hi", channel="mqtt")
    assert (third.conversation_id, third.texts) == (first.conversation_id, ["turn 2"])
    # Another user has their own.
    assert send(engine, "hi", user="bo").conversation_id != first.conversation_id


def test_per_user_follows_the_conversation_the_user_started_last(tmp_path: Path) -> None:
    engine = engine_for(tmp_path)
    first = send(engine, "hi")
    send(engine, "hi", conversation="named-later")
    assert send(engine, "hi").conversation_id == "named-later"
    # A fresh container (nothing remembered) reads the pointer, and one that remembers the old one follows the
    # superseded marker: both land in the latest.
    engine.router.current.clear()
    assert send(engine, "hi").conversation_id == "named-later"
    engine.router.current.put("user:ann", first.conversation_id)
    assert send(engine, "hi").conversation_id == "named-later"
    # Continuing an older conversation by name does not make it the latest started.
    send(engine, "hi", conversation=first.conversation_id)
    assert send(engine, "hi").conversation_id == "named-later"


def test_per_connection_keeps_the_channels_own_conversation(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, "per_connection")
    assert send(engine, "hi", channel="http").conversation_id == "per-request"
    assert send(engine, "hi", channel="websocket").conversation_id == "per-socket"
    assert send(engine, "hi", channel="websocket").texts == ["turn 1"]


def test_explicit_refuses_a_message_without_a_conversation_id(tmp_path: Path) -> None:
    engine = engine_for(tmp_path, "explicit")
    with pytest.raises(ConversationIdRequiredError) as refused:
        send(engine, "hi")
    assert (refused.value.code, refused.value.http_status) == ("conversation_id_required", 422)
    assert send(engine, "hi", conversation="c1").texts == ["turn 0"]


def test_a_user_slot_outlives_the_conversation_and_is_written_only_when_it_changes(tmp_path: Path) -> None:
    store = InMemoryConversationStore()
    writes: list[dict[str, Any]] = []
    save_profile = store.owners.save_profile

    def counting(owner: str, profile: dict[str, Any], **kw: Any) -> int:
        writes.append(profile)
        return save_profile(owner, profile, **kw)

    store.owners.save_profile = counting  # type: ignore[method-assign]
    engine = engine_for(tmp_path, store=store)
    assert send(engine, "I am Ann", conversation="first").texts == ["Nice to meet you, I am Ann."]
    send(engine, "about pizza", conversation="first")  # a conversation slot: no profile write
    send(engine, "hi", conversation="first")
    assert writes == [{"name": "I am Ann"}]
    second = send(engine, "hi", conversation="second")
    assert second.texts == ["Hello again, I am Ann."]
    assert second.slots == {"name": "I am Ann"}  # the conversation slot stayed in the first conversation
    send(engine, "forget me", conversation="second")
    assert writes[-1] == {}
    assert send(engine, "hi", conversation="third").texts == ["turn 0"]


def test_a_profile_written_by_another_conversation_meanwhile_is_merged_not_overwritten(tmp_path: Path) -> None:
    store = InMemoryConversationStore()
    engine = engine_for(tmp_path, store=store)
    send(engine, "hi", conversation="a")  # started while the profile was empty (version 0)
    store.owners.save_profile("user:ann", {"city": "Oslo"}, version=0, retention_days=30)
    send(engine, "I am Ann", conversation="a")
    assert store.owners.read("user:ann").profile == {"city": "Oslo", "name": "I am Ann"}


def test_turns_that_leave_the_window_are_kept_in_a_bounded_summary(tmp_path: Path) -> None:
    engine = engine_for(tmp_path)
    engine.window = 2
    send(engine, "about the weather", conversation="c")
    send(engine, "about pizza", conversation="c")
    assert send(engine, "recap", conversation="c").texts == [""]  # nothing left the window yet
    reply = send(engine, "recap", conversation="c")
    assert reply.texts == ["-: about the weather (set topic)"]
    for i in range(40):
        send(engine, f"about thing number {i} " + "x" * 30, conversation="c")
    summary = send(engine, "recap", conversation="c").texts[0]
    assert len(summary) <= MAX_CHARS
    assert "thing number 37" in summary and "weather" not in summary  # the oldest went first


def test_extractive_summary_keeps_the_newest_entries_within_the_bound() -> None:
    turns = [Turn(seq=i, message_id=f"m{i}", channel="test", user_text=f"message {i} " * 10) for i in range(50)]
    summary: str | None = None
    for turn in turns:
        summary = extractive(summary, turn)
    assert summary is not None and len(summary) <= MAX_CHARS
    entries = summary.split(" | ")
    assert entries[-1].startswith("-: message 49 message 49") and entries[-1].endswith("…")
    assert not any(e.startswith("-: message 0 ") for e in entries)


SUMMARIZER = """
from clawline.plugins.base import BasePlugin, PluginResult


class Abstract(BasePlugin):
    name = "abstract"

    async def summarize(self, ctx, previous, dropped):
        return PluginResult(text=f"{previous or ''}<{dropped.user_text}>")
"""


def test_a_summarize_plugin_replaces_the_extractive_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = f"summarizer_{tmp_path.name.replace('-', '_')}"
    package = tmp_path / "pkgs" / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(SUMMARIZER, encoding="utf-8")
    write_manifest(package / "__init__.py", manifest("Abstract", "abstract", ["summarize"]))
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    text = BOT + f'plugins:\n  - {{module: "{module}", class: "Abstract"}}\n'
    engine = make_engine(tmp_path / "bot", text, nlu=ScriptedNlu({}))
    engine.window = 1
    send(engine, "one", conversation="c")
    send(engine, "two", conversation="c")
    # A reply sees the summary as the turn found it; "two" leaves the window with the first recap.
    assert send(engine, "recap", conversation="c").texts == ["<one>"]
    assert send(engine, "recap", conversation="c").texts == ["<one><two>"]
