"""Delivering a due reminder, without AWS: the in-memory store (the same contract as DynamoDB's, see
tests/functional/test_conversation_store_contract.py) and recording pushers."""

from __future__ import annotations

from typing import Any

import pytest

from clawline.channels.reminders import ReminderDelivery, ReminderEvent, parse_event
from clawline.conversation import ConversationState, Turn
from clawline.errors import InvalidInputError, RetryableError
from clawline.messages import Channel, Reply
from clawline.store.memory import InMemoryConversationStore

EVENT = {
    "type": "clawline.reminder",
    "schedule": "clawline-0123456789abcdef0123456789abcdef01234567",
    "bot": "assistant",
    "channel": "websocket",
    "conversation_id": "c1",
    "user": "alice",
    "owner": "user:alice",
    "text": "Reminder: call the bank",
    "reply_topic": None,
    "due": "2026-11-27T11:00:00+01:00",
}


class Pushes:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    def __call__(self, event: ReminderEvent, frame: dict[str, Any]) -> int:
        self.frames.append(frame)
        return 1


class RacingStore(InMemoryConversationStore):
    """A user's turn is stored between the reminder's load and its write, ``races`` times."""

    def __init__(self, races: int) -> None:
        super().__init__()
        self.races = races

    def save(self, state: ConversationState, turn: Turn, *, reply: Reply | None = None) -> ConversationState:
        if self.races and turn.message_id.startswith("reminder:"):
            self.races -= 1
            user = Turn(
                seq=0, message_id=f"u-{self.races}", channel=Channel.WEBSOCKET, user_text="hi", bot_texts=["Hi!"]
            )
            super().save(super().load(state.conversation_id, state.owner), user)
        return super().save(state, turn, reply=reply)


def set_in(store: InMemoryConversationStore) -> None:
    """The turn that set the reminder: a reminder is due in a conversation that has turns."""
    store.save(
        store.load("c1", "user:alice"),
        Turn(seq=0, message_id="m-0", channel=Channel.WEBSOCKET, user_text="remind me", bot_texts=["OK"]),
    )


def test_a_reminder_racing_user_turns_is_appended_after_them_once() -> None:
    store, pushes = RacingStore(races=2), Pushes()
    set_in(store)
    result = ReminderDelivery(store, {Channel.WEBSOCKET: pushes}).deliver(parse_event(EVENT))
    assert (result.status, result.pushed) == ("delivered", 1)
    page = store.list_turns("c1", "user:alice")
    assert [t.message_id for t in reversed(page.turns)] == ["m-0", "u-1", "u-0", "reminder:" + EVENT["schedule"]]
    assert [m["text"] for m in pushes.frames[0]["messages"]] == ["Reminder: call the bank"]


def test_a_reminder_whose_conversation_is_gone_is_dropped() -> None:
    store, pushes = InMemoryConversationStore(), Pushes()
    result = ReminderDelivery(store, {Channel.WEBSOCKET: pushes}).deliver(parse_event(EVENT))
    assert (result.status, result.pushed, pushes.frames) == ("gone", 0, [])
    assert store.list_turns("c1", "user:alice").turns == []


def test_a_conversation_that_never_settles_is_retried_by_lambda() -> None:
    store = RacingStore(races=50)
    set_in(store)
    delivery = ReminderDelivery(store, {})
    with pytest.raises(RetryableError):
        delivery.deliver(parse_event(EVENT))


def test_the_slots_of_the_conversation_survive_the_reminder() -> None:
    store = InMemoryConversationStore()
    state = store.load("c1", "user:alice")
    state.slots = {"city": "Paris"}
    store.save(state, Turn(seq=0, message_id="m-1", channel=Channel.WEBSOCKET, user_text="Paris", bot_texts=["OK"]))
    ReminderDelivery(store, {}).deliver(parse_event(EVENT))
    after = store.load("c1", "user:alice")
    assert (after.version, after.slots) == (2, {"city": "Paris"})


@pytest.mark.parametrize(
    "change",
    [{"text": ""}, {"text": "x" * (16 * 1024 + 1)}, {"schedule": "has space"}, {"channel": "pigeon"}, {"user": ""}],
)
def test_an_event_the_plugin_cannot_have_written_is_refused_with_the_field_named(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_event({**EVENT, **change})
    (field,) = change
    assert any(e.startswith(field) for e in caught.value.details["errors"])  # type: ignore[union-attr]
