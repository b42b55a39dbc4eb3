"""In-memory ``ConversationStore`` for unit tests, ``clawline chat`` and story tests.

It keeps the same contract as the DynamoDB adapter (the contract test in tests/functional runs both),
including optimistic locking, so code tested against it behaves the same in Lambda.
"""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime
from typing import Any

from clawline.conversation import ConversationState, Turn, TurnAlreadyStoredError, TurnPage
from clawline.errors import ConflictError
from clawline.messages import Reply
from clawline.ports import OwnerRecord
from clawline.store.keys import conversation_pk, decode_cursor, encode_cursor


class InMemoryOwnerIndex:
    """``OwnerIndex`` in memory, with the DynamoDB adapter's semantics (``clawline.store.owners``)."""

    def __init__(self, store: InMemoryConversationStore) -> None:
        self._store = store
        self._current: dict[str, str] = {}
        self.conversations: dict[str, dict[str, dict[str, str]]] = {}
        self._profiles: dict[str, tuple[dict[str, Any], int]] = {}
        self._lock = threading.Lock()

    def read(self, owner: str) -> OwnerRecord:
        with self._lock:
            profile, version = self._profiles.get(owner, ({}, 0))
            return OwnerRecord(self._current.get(owner), copy.deepcopy(profile), version)

    def start(self, owner: str, conversation_id: str, *, channel: str, expected: str | None, exclusive: bool) -> str:
        with self._lock:
            previous = self._current.get(owner)
            if exclusive and previous != expected:
                if previous is None:
                    raise ConflictError("the current conversation changed, try again")
                return previous
            self._current[owner] = conversation_id
        if previous and previous != conversation_id:
            self._store.supersede(owner, previous, conversation_id)
        self.index(owner, conversation_id, channel=channel)
        return conversation_id

    def index(self, owner: str, conversation_id: str, *, channel: str) -> None:
        with self._lock:
            self.conversations.setdefault(owner, {}).setdefault(
                conversation_id, {"created_at": datetime.now(UTC).isoformat(), "channel": channel}
            )

    def forget(self, owner: str, conversation_id: str) -> None:
        with self._lock:
            self.conversations.get(owner, {}).pop(conversation_id, None)

    def save_profile(self, owner: str, profile: dict[str, Any], *, version: int, retention_days: int) -> int:
        with self._lock:
            if self._profiles.get(owner, ({}, 0))[1] != version:
                raise ConflictError("the profile was changed by another conversation")
            self._profiles[owner] = (copy.deepcopy(profile), version + 1)
        return version + 1


class InMemoryConversationStore:
    def __init__(self) -> None:
        self._states: dict[str, ConversationState] = {}
        self._turns: dict[str, list[Turn]] = {}
        #: Superseded conversations: pk -> the one that superseded it (DynamoDB's T#~ marker).
        self._superseded: dict[str, str] = {}
        self._lock = threading.Lock()
        self.owners = InMemoryOwnerIndex(self)

    def supersede(self, owner: str, conversation_id: str, successor: str) -> None:
        with self._lock:
            self._superseded[conversation_pk(owner, conversation_id)] = successor

    def load(
        self, conversation_id: str, owner: str, *, window: int = 10, as_current: bool = False
    ) -> ConversationState:
        pk = conversation_pk(owner, conversation_id)
        with self._lock:
            if as_current and pk in self._superseded:
                return ConversationState(
                    conversation_id=conversation_id, owner=owner, superseded_by=self._superseded[pk]
                )
            stored = self._states.get(pk)
            state = (
                stored.model_copy(deep=True)
                if stored
                else ConversationState(conversation_id=conversation_id, owner=owner)
            )
            turns = self._turns.get(pk, [])
            state.recent_turns = [t.model_copy() for t in turns[-window:]] if window > 0 else []
            state.loaded_turns = [t.model_copy() for t in turns[-max(window, 1) :]]
        return state

    def save(self, state: ConversationState, turn: Turn, *, reply: Reply | None = None) -> ConversationState:
        stored = state.stored_turn(turn.message_id)
        if stored is not None:
            raise TurnAlreadyStoredError(stored)
        pk = conversation_pk(state.owner, state.conversation_id)
        with self._lock:
            current = self._states.get(pk)
            current_version = current.version if current else 0
            if current_version != state.version:
                raise ConflictError(
                    "conversation was changed by another turn",
                    details={"expected_version": state.version, "actual_version": current_version},
                )
            saved = state.model_copy(deep=True, update={"version": state.version + 1})
            saved.recent_turns = []
            saved.loaded_turns = []
            self._states[pk] = saved
            stored_turn = turn.model_copy(update={"seq": saved.version})
            stored_turn.reply = reply
            self._turns.setdefault(pk, []).append(stored_turn)
        result = saved.model_copy(deep=True)
        result.recent_turns = [*state.recent_turns, turn]
        return result

    def list_turns(self, conversation_id: str, owner: str, *, limit: int = 20, cursor: str | None = None) -> TurnPage:
        pk = conversation_pk(owner, conversation_id)
        with self._lock:
            newest_first = list(reversed(self._turns.get(pk, [])))
        if cursor is not None:
            before = int(str(decode_cursor(cursor).get("seq", 0)))
            newest_first = [t for t in newest_first if t.seq < before]
        page = newest_first[:limit]
        more = len(newest_first) > limit
        return TurnPage(turns=page, next_cursor=encode_cursor({"seq": page[-1].seq}) if more and page else None)

    def delete(self, conversation_id: str, owner: str) -> int:
        pk = conversation_pk(owner, conversation_id)
        with self._lock:
            self._states.pop(pk, None)
            self._superseded.pop(pk, None)
            deleted = len(self._turns.pop(pk, []))
        if deleted:
            self.owners.forget(owner, conversation_id)
        return deleted
