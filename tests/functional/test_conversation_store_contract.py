"""The ``ConversationStore`` contract, run against every implementation: DynamoDB (on moto's server) and the
in-memory fake the unit tests use. A behaviour the fake has and DynamoDB lacks (or the reverse) fails here."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from clawline.conversation import ConversationState, Turn, TurnAlreadyStoredError
from clawline.errors import ConflictError, InvalidInputError
from clawline.messages import Channel
from clawline.ports import ConversationStore, OwnerIndex, OwnerRecord
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


# ----- the owner's partition (OwnerIndex): current conversation, index items, superseded marker, profile -------


def owners_of(store: ConversationStore) -> OwnerIndex:
    owners = store.owners  # type: ignore[attr-defined]  # both first-party stores keep an owner index
    assert isinstance(owners, OwnerIndex)
    return owners


def test_an_owner_without_conversations_has_no_current_one_and_an_empty_profile(store):
    assert owners_of(store).read("user:alice") == OwnerRecord()


def test_starting_a_conversation_makes_it_current_and_supersedes_the_previous_one(store):
    owners = owners_of(store)
    assert owners.start("user:alice", "c1", channel="http", expected=None, exclusive=True) == "c1"
    advance(store, store.load("c1", "user:alice"), 1)
    assert owners.read("user:alice").current == "c1"
    # A conversation started by naming it (not exclusive) becomes current too and marks the one it replaced.
    assert owners.start("user:alice", "c2", channel="websocket", expected=None, exclusive=False) == "c2"
    assert owners.read("user:alice").current == "c2"
    assert store.load("c1", "user:alice", as_current=True).superseded_by == "c2"
    # Named, the superseded conversation still loads (and takes turns) as before: the marker is not a turn.
    named = store.load("c1", "user:alice")
    assert (named.superseded_by, named.version, [t.message_id for t in named.recent_turns]) == (None, 1, ["m1"])
    advance(store, named, 2)
    assert [t.message_id for t in store.list_turns("c1", "user:alice").turns] == ["m2", "m1"]
    assert store.load("c2", "user:alice", as_current=True).superseded_by is None


def test_two_channels_starting_the_first_conversation_at_once_converge_on_one(store):
    owners = owners_of(store)
    results: list[str] = []
    barrier = threading.Barrier(2)

    def start(conversation_id: str, channel: str) -> None:
        barrier.wait()
        results.append(owners.start("user:bo", conversation_id, channel=channel, expected=None, exclusive=True))

    threads = [threading.Thread(target=start, args=args) for args in (("from-http", "http"), ("from-ws", "websocket"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    current = owners.read("user:bo").current
    assert current in ("from-http", "from-ws")
    assert results == [current, current]


def test_an_exclusive_start_against_a_stale_pointer_joins_the_current_conversation(store):
    owners = owners_of(store)
    owners.start("user:cy", "c1", channel="http", expected=None, exclusive=True)
    # Another turn saw no conversation (stale) and tries to start its own: it is given c1 instead.
    assert owners.start("user:cy", "c9", channel="mqtt", expected=None, exclusive=True) == "c1"
    assert owners.read("user:cy").current == "c1"
    assert store.load("c1", "user:cy", as_current=True).superseded_by is None


def test_the_profile_is_versioned_and_a_stale_write_conflicts(store):
    owners = owners_of(store)
    assert owners.save_profile("user:di", {"name": "Di"}, version=0, retention_days=365) == 1
    record = owners.read("user:di")
    assert (record.profile, record.profile_version) == ({"name": "Di"}, 1)
    with pytest.raises(ConflictError):
        owners.save_profile("user:di", {"name": "Stale"}, version=0, retention_days=365)
    assert owners.save_profile("user:di", {"name": "Di", "city": "Oslo"}, version=1, retention_days=365) == 2
    assert owners.read("user:di").profile == {"name": "Di", "city": "Oslo"}


def test_deleting_a_conversation_removes_its_index_entry(state_table):
    dynamodb, table = state_table
    store = DynamoDBConversationStore(dynamodb, table, retention_seconds=3600)
    store.owners.start("user:ed", "c1", channel="http", expected=None, exclusive=True)
    advance(store, store.load("c1", "user:ed"), 1)
    keys = {(i["pk"]["S"], i["sk"]["S"]) for i in dynamodb.scan(TableName=table)["Items"]}
    assert ("U#user:ed", "C#c1") in keys
    assert store.delete("c1", "user:ed") == 1
    keys = {(i["pk"]["S"], i["sk"]["S"]) for i in dynamodb.scan(TableName=table)["Items"]}
    assert keys == {("U#user:ed", "CUR")}


def test_the_profile_is_sealed_like_the_turns(state_table):
    from cryptography.fernet import Fernet

    from clawline.security.encryption import FernetCipher

    dynamodb, table = state_table
    store = DynamoDBConversationStore(
        dynamodb, table, retention_seconds=3600, cipher=FernetCipher(Fernet.generate_key())
    )
    store.owners.save_profile("user:fay", {"name": "Fay Secret"}, version=0, retention_days=30)
    (item,) = dynamodb.scan(TableName=table)["Items"]
    assert "Fay Secret" not in json.dumps(item, default=repr)
    import time

    assert time.time() + 29 * 86400 < int(item["expires_at"]["N"]) <= time.time() + 30 * 86400 + 5
    assert store.owners.read("user:fay").profile == {"name": "Fay Secret"}
