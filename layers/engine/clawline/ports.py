"""Ports: the engine's only ways out to the world. Adapters (DynamoDB, API Gateway, IoT, EMF) implement them.

A contract test runs the same assertions against every implementation of a port, so an in-memory fake
cannot drift from the DynamoDB adapter it stands for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from clawline.conversation import ConversationState, Turn, TurnPage
from clawline.messages import Reply


@runtime_checkable
class ConversationStore(Protocol):
    """Conversation state and transcript, partitioned by owner (the authenticated principal)."""

    def load(
        self, conversation_id: str, owner: str, *, window: int = 10, as_current: bool = False
    ) -> ConversationState:
        """The conversation's state with its most recent turns; a fresh state (version 0) if none exists.

        ``as_current``: loaded as the owner's current conversation; if the owner has since started another one,
        the state is empty and ``superseded_by`` names it (``clawline.store.owners``).
        """
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


@dataclass
class OwnerRecord:
    """What an owner has across conversations: the current one (None: none yet) and the profile."""

    current: str | None = None
    profile: dict[str, Any] = field(default_factory=dict)
    profile_version: int = 0


@runtime_checkable
class OwnerIndex(Protocol):
    """An owner's current conversation, the list of their conversations, and their profile."""

    def read(self, owner: str) -> OwnerRecord:
        """The current conversation and the profile, read consistently (one request)."""
        ...

    def start(self, owner: str, conversation_id: str, *, channel: str, expected: str | None, exclusive: bool) -> str:
        """Make ``conversation_id`` the owner's current conversation, index it, and mark the one it supersedes.

        ``exclusive`` (a message without a conversation id): only if the current one is still ``expected``;
        otherwise nothing is written and the conversation another turn made current is returned.
        """
        ...

    def index(self, owner: str, conversation_id: str, *, channel: str) -> None:
        """Index the conversation without making it current (``per_connection``, ``explicit``)."""
        ...

    def save_profile(self, owner: str, profile: dict[str, Any], *, version: int, retention_days: int) -> int:
        """Replace the profile if it is still at ``version``; the new version, or ``ConflictError``."""
        ...


class Clock(Protocol):
    def now(self) -> datetime: ...
