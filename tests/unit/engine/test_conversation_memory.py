"""Conversation memory through the store port: per owner, bounded window, and no lost turn on a race."""

from __future__ import annotations

import asyncio

import pytest

from clawline.conversation import ConversationState, Turn
from clawline.engine import MAX_TURN_ATTEMPTS
from clawline.errors import ConflictError
from clawline.messages import Reply
from clawline.store.memory import InMemoryConversationStore

from .helpers import BASE, ScriptedNlu, make_engine, message, say

BOT = (
    BASE
    + """
slots:
  count: {type: number}
responses:
  counted: ["count={slots.count}"]
  history: ["you said {turn_count} things"]
rules:
  - name: first
    when: is_new
    then: [{set_slot: {count: 1}}, {reply: counted}]
  - name: next
    when: has(slots.count)
    then: [{set_slot: {count: "{slots.count}1"}}, {reply: counted}]
"""
)


class RacingStore(InMemoryConversationStore):
    """Another turn saves just before ours, ``races`` times."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def save(self, state: ConversationState, turn: Turn, *, reply: Reply | None = None) -> ConversationState:
        if self.races > 0:
            self.races -= 1
            rival = self.load(state.conversation_id, state.owner)
            rival.slots["count"] = 7
            super().save(rival, turn.model_copy(update={"message_id": f"rival-{self.races}", "user_text": "rival"}))
        return super().save(state, turn, reply=reply)


def test_a_turn_that_lost_a_race_is_decided_again_on_the_winner_state(tmp_path):
    store = RacingStore(races=1)
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu({}), store=store)
    reply = say(engine, "hi")
    # The rival turn created the conversation with count=7; ours re-ran on it instead of overwriting it.
    assert reply.slots == {"count": 71}
    turns = store.list_turns("c1", "u1").turns
    assert [t.user_text for t in turns] == ["hi", "rival"]


def test_a_turn_that_keeps_losing_raises_conflict_after_bounded_attempts(tmp_path):
    store = RacingStore(races=MAX_TURN_ATTEMPTS)
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu({}), store=store)
    with pytest.raises(ConflictError):
        say(engine, "hi")
    assert [t.user_text for t in store.list_turns("c1", "u1").turns] == ["rival"] * MAX_TURN_ATTEMPTS


def test_concurrent_turns_of_one_conversation_are_all_kept(tmp_path):
    store = InMemoryConversationStore()
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu({}), store=store)

    async def both():
        return await asyncio.gather(engine.handle(message("a")), engine.handle(message("b")))

    asyncio.run(both())
    assert len(store.list_turns("c1", "u1").turns) == 2


def test_conversations_are_separate_per_owner(tmp_path):
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu({}))
    say(engine, "hi", sender="alice")
    assert say(engine, "hi", sender="bob").slots == {"count": 1}
    assert say(engine, "hi", sender="alice").slots == {"count": 11}


def test_each_turn_is_recorded_with_what_the_bot_said(tmp_path):
    store = InMemoryConversationStore()
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu({}), store=store)
    say(engine, "one")
    say(engine, "two")
    turns = store.list_turns("c1", "u1").turns
    assert [(t.seq, t.user_text, t.bot_texts) for t in turns] == [(2, "two", ["count=11"]), (1, "one", ["count=1"])]


def test_rules_see_only_a_bounded_window_of_recent_turns(tmp_path):
    bot = (
        BASE
        + """
responses:
  seen: ["seen"]
rules:
  - {name: seen, when: 'size(turns) == 2 && turns[0].user == "b"', then: [{reply: seen}]}
"""
    )
    engine = make_engine(tmp_path, bot, nlu=ScriptedNlu({}))
    engine.window = 2
    for text in ("a", "b", "c"):
        say(engine, text)
    assert say(engine, "d").texts == ["seen"]


def test_the_engine_remembers_the_last_intents(tmp_path):
    bot = (
        BASE
        + """
intents:
  greet: {examples: [hi]}
responses:
  again: ["again"]
rules:
  - {name: again, when: 'last_intent == "greet" && intent == "greet"', then: [{reply: again}]}
  - {name: greet, when: 'intent == "greet"', then: [{reply: hello}]}
"""
    )
    store = InMemoryConversationStore()
    engine = make_engine(tmp_path, bot, nlu=ScriptedNlu({"hi": ("greet", 0.9)}), store=store)
    assert say(engine, "hi").texts == ["Hello!"]
    assert say(engine, "hi").texts == ["again"]
    assert store.load("c1", "u1").last_intents == ["greet", "greet"]
