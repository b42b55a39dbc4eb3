"""Ports: the engine's only ways out to the world. Adapters (DynamoDB, API Gateway, IoT, EMF) implement them.

A contract test runs the same assertions against every implementation of a port, so an in-memory fake
cannot drift from the DynamoDB adapter it stands for.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from clawline.conversation import ConversationState, Turn, TurnPage
from clawline.messages import Reply


@runtime_checkable
class ConversationStore(Protocol):
    """Conversation state and transcript, partitioned by owner (the authenticated principal)."""

    def load(self, conversation_id: str, owner: str, *, window: int = 10) -> ConversationState:
        """The conversation's state with its most recent turns; a fresh state (version 0) if none exists."""
        ...

    def save(self, state: ConversationState, turn: Turn, *, reply: Reply | None = None) -> ConversationState:
        """Store the turn, the reply it answered and the state atomically, if nobody wrote since ``state.version``.

        Returns the state with its new version. Raises ``ConflictError`` when the write lost a race and
        ``TurnAlreadyStoredError`` when the turn's message id is already stored (a replay).
        """
        ...

    def list_turns(self, conversation_id: str, owner: str, *, limit: int = 20, cursor: str | None = None) -> TurnPage:
        """Turns, newest first, one page at a time."""
        ...

    def delete(self, conversation_id: str, owner: str) -> int:
        """Delete the state, every turn and with them every stored reply; returns how many turns were deleted."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...
