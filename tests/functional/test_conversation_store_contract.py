"""The ``ConversationStore`` contract, run against every implementation: DynamoDB (on moto's server) and the
in-memory fake the unit tests use. A behaviour the fake has and DynamoDB lacks (or the reverse) fails here."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from clawline.conversation import ConversationState, Turn, TurnAlreadyStoredError
from clawline.errors import ConflictError, InvalidInputError
from clawline.messages import Channel
from clawline.ports import ConversationStore
from clawline.store.dynamodb import DynamoDBConversationStore
from clawline.store.memory import InMemoryConversationStore


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[ConversationStore]:
    if request.param == "memory":
        yield InMemoryConversationStore()
    else:
        dynamodb, table = request.getfixturevalue("state_table")
        yield DynamoDBConversationStore(dynamodb, table, retention_seconds=3600)


def turn(n: int, text: str | None = None) -> Turn:
    return Turn(seq=0, message_id=f"m{n}", channel=Channel.TEST, user_text=text or f"user {n}", bot_texts=[f"bot {n}"])


def advance(store: ConversationStore, state: ConversationState, n: int, **slots: Any) -> ConversationState:
    state.slots.update(slots)
    return store.save(state, turn(n))


def test_an_unknown_conversation_loads_as_a_fresh_state(store):
    state = store.load("c1", "alice")
    assert (state.conversation_id, state.owner, state.version, state.slots, state.recent_turns) == (
        "c1",
        "alice",
        0,
        {},
        [],
    )
    assert state.is_new


def test_save_stores_state_and_turn_and_bumps_the_version(store):
    state = store.load("c1", "alice")
    state.active_form = "order"
    state.remember_intent("greet")
    saved = advance(store, state, 1, size="large")
    assert saved.version == 1
    loaded = store.load("c1", "alice")
    assert (loaded.version, loaded.slots, loaded.active_form, loaded.last_intents) == (
        1,
        {"size": "large"},
        "order",
        ["greet"],
    )
    assert [(t.seq, t.user_text, t.bot_texts) for t in loaded.recent_turns] == [(1, "user 1", ["bot 1"])]


def test_a_stale_save_raises_conflict_and_changes_nothing(store):
    first = store.load("c1", "alice")
    second = store.load("c1", "alice")
    advance(store, first, 1, winner="first")
    with pytest.raises(ConflictError):
        advance(store, second, 2, winner="second")
    loaded = store.load("c1", "alice")
    assert loaded.slots == {"winner": "first"}
    assert [t.message_id for t in store.list_turns("c1", "alice").turns] == ["m1"]


def test_a_stale_save_on_an_existing_conversation_raises_conflict(store):
    state = advance(store, store.load("c1", "alice"), 1)
    a = store.load("c1", "alice")
    b = store.load("c1", "alice")
    advance(store, a, 2)
    with pytest.raises(ConflictError):
        advance(store, b, 3)
    assert store.load("c1", "alice").version == state.version + 1


def test_only_one_of_many_racing_saves_wins(store):
    base = store.load("c1", "alice")
    states = [base.model_copy(deep=True) for _ in range(6)]
    wins: list[int] = []
    conflicts: list[int] = []

    def attempt(i: int) -> None:
        try:
            advance(store, states[i], i)
            wins.append(i)
        except ConflictError:
            conflicts.append(i)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    assert len(conflicts) == 5
    assert len(store.list_turns("c1", "alice").turns) == 1


def test_load_returns_only_the_most_recent_window_oldest_first(store):
    for n in range(1, 8):
        advance(store, store.load("c1", "alice"), n)
    loaded = store.load("c1", "alice", window=3)
    assert [t.seq for t in loaded.recent_turns] == [5, 6, 7]
    assert store.load("c1", "alice", window=0).recent_turns == []


def test_the_state_does_not_grow_with_the_transcript(store):
    for n in range(1, 30):
        advance(store, store.load("c1", "alice", window=0), n)
    loaded = store.load("c1", "alice", window=0)
    assert "recent_turns" not in loaded.model_dump()
    assert len(loaded.model_dump_json()) < 1000


def test_list_turns_pages_newest_first_with_a_cursor(store):
    for n in range(1, 6):
        advance(store, store.load("c1", "alice"), n)
    first = store.list_turns("c1", "alice", limit=2)
    assert [t.seq for t in first.turns] == [5, 4]
    assert first.next_cursor is not None
    second = store.list_turns("c1", "alice", limit=2, cursor=first.next_cursor)
    assert [t.seq for t in second.turns] == [3, 2]
    third = store.list_turns("c1", "alice", limit=2, cursor=second.next_cursor)
    assert [t.seq for t in third.turns] == [1]
    assert third.next_cursor is None


def test_a_forged_cursor_is_refused(store):
    advance(store, store.load("c1", "alice"), 1)
    with pytest.raises(InvalidInputError):
        store.list_turns("c1", "alice", cursor="not-a-cursor!!")


def test_conversations_are_partitioned_by_owner(store):
    advance(store, store.load("c1", "alice"), 1, secret="alice's")
    bob = store.load("c1", "bob")
    assert bob.is_new
    assert bob.slots == {}
    assert store.list_turns("c1", "bob").turns == []
    assert store.delete("c1", "bob") == 0
    assert store.load("c1", "alice").slots == {"secret": "alice's"}


def test_delete_removes_the_state_and_every_turn(store):
    for n in range(1, 31):
        advance(store, store.load("c1", "alice", window=0), n)
    advance(store, store.load("c2", "alice"), 1)
    assert store.delete("c1", "alice") == 30  # one item per turn; the newest carries the state
    assert store.load("c1", "alice").is_new
    assert store.list_turns("c1", "alice").turns == []
    assert store.delete("c1", "alice") == 0
    assert not store.load("c2", "alice").is_new


def test_a_deleted_conversation_starts_again_from_version_zero(store):
    advance(store, store.load("c1", "alice"), 1)
    store.delete("c1", "alice")
    fresh = store.load("c1", "alice")
    saved = advance(store, fresh, 1, again=True)
    assert saved.version == 1
    assert store.load("c1", "alice").slots == {"again": True}


def test_dynamodb_items_carry_a_ttl_in_the_future(state_table):
    import time

    dynamodb, table = state_table
    store = DynamoDBConversationStore(dynamodb, table, retention_seconds=3600)
    for n in range(1, 4):
        advance(store, store.load("c1", "alice"), n)
    items = dynamodb.scan(TableName=table)["Items"]
    assert len(items) == 3  # one item per turn, the newest carrying the state: nothing else to expire
    now = time.time()
    assert all(now < int(i["expires_at"]["N"]) <= now + 3600 + 5 for i in items)


def test_a_message_id_is_stored_once_per_conversation(store):
    """The write that stores a turn is what makes its message id exactly-once: a second save of the same id,
    from a stale state (it raced its first delivery) or a fresh one (a replay), is refused or recognised."""
    stale = store.load("c1", "alice")
    advance(store, store.load("c1", "alice"), 1)
    with pytest.raises(ConflictError):
        advance(store, stale, 1)  # the duplicate in flight loses the write ...
    reloaded = store.load("c1", "alice")
    assert reloaded.stored_turn("m1") is not None  # ... and its reload finds the stored turn
    with pytest.raises(TurnAlreadyStoredError):
        advance(store, reloaded, 1)
    assert [t.message_id for t in store.list_turns("c1", "alice").turns] == ["m1"]


def test_a_replay_is_recognised_even_with_a_window_of_zero(store):
    advance(store, store.load("c1", "alice", window=0), 1)
    state = store.load("c1", "alice", window=0)
    assert state.recent_turns == []
    assert state.stored_turn("m1") is not None
