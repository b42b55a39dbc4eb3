"""Conversation memory: one item per turn, each carrying the conversation's state as that turn left it.

No item embeds the transcript, so none grows without bound (DynamoDB caps items at 400 KB); the newest
turns (the bounded window) are read together, and the newest of them carries the current state
(``clawline.store.dynamodb`` draws the layout).
"""

# No `from __future__ import annotations`: pydantic would evaluate each field's annotation string when it creates
# these classes at import (clawline.bot.models does the same).

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from clawline.errors import ClawlineError
from clawline.messages import Channel, Reply, utc_now

#: How many recent turns a conversation keeps in its window (and loads per turn).
DEFAULT_WINDOW = 10
#: How many recent intents the state remembers.
LAST_INTENTS = 5


class Turn(BaseModel):
    """One exchange: the user's message and what the bot answered."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    seq: int
    message_id: str
    channel: Channel
    user_text: str
    bot_texts: list[str] = []
    intent: str | None = None
    confidence: float | None = None
    #: Slots this turn set or changed (names only): the rolling summary (``clawline.summary``) mentions them.
    slots_set: list[str] = []
    created_at: datetime = Field(default_factory=utc_now)
    #: The reply this turn answered with, as stored: a replay of the message answers it again.
    reply: Reply | None = Field(default=None, exclude=True)
    #: The invocation that stored the turn (a Lambda request id): a retry of that same invocation may never
    #: have delivered the reply, a redelivery in another invocation did.
    invocation_id: str | None = Field(default=None, exclude=True)


class ConversationState(BaseModel):
    """What a conversation remembers between turns. ``version`` guards every write (optimistic locking)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    conversation_id: str
    owner: str
    version: int = 0
    slots: dict[str, Any] = {}
    active_form: str | None = None
    #: Where the active form is: None while filling slots, "confirm" (waiting for yes / no), "change".
    form_step: str | None = None
    last_intents: list[str] = []
    #: What the turns that left the window said (``clawline.summary``): extractive, or a plugin's abstractive one.
    summary: str | None = None
    #: The version of the owner's profile this conversation last read or wrote (``clawline.profile``).
    profile_version: int = 0
    updated_at: datetime = Field(default_factory=utc_now)
    #: Most recent turns, oldest first; loaded with the state, never stored inside it.
    recent_turns: list[Turn] = Field(default=[], exclude=True)
    #: Every turn the store read with the state (at least the newest, even with a window of 0): replays are
    #: recognised among them.
    loaded_turns: list[Turn] = Field(default=[], exclude=True)
    #: The conversation's data key, encrypted under KMS, carried from turn to turn (None: none yet or no KMS).
    sealed_key: bytes | None = Field(default=None, exclude=True)
    #: Loaded as the owner's current conversation, it had been superseded by this one (``clawline.store.owners``).
    superseded_by: str | None = Field(default=None, exclude=True)

    @property
    def is_new(self) -> bool:
        return self.version == 0

    def remember_intent(self, intent: str | None) -> None:
        if intent:
            self.last_intents = [*self.last_intents, intent][-LAST_INTENTS:]

    def stored_turn(self, message_id: str) -> Turn | None:
        """The turn already stored for ``message_id`` among the loaded ones (a replay), or None."""
        return next((t for t in (*self.loaded_turns, *self.recent_turns) if t.message_id == message_id), None)


def build_turn_models() -> None:
    """Build the models every turn uses, nested ones first. They defer their build (clawline.messages); a deferred
    model met inside another one's build (a Reply inside a Turn inside a ConversationState) is generated there and
    again when it is first used itself, unless it was built first: in this order each is generated once (about 5 ms
    less on a cold start's first turn)."""
    for model in (Reply, Turn, ConversationState):
        if not model.__pydantic_complete__:
            model.model_rebuild()


class TurnAlreadyStoredError(ClawlineError):
    """This message's turn is already stored: a replay (redelivery, retry, lost acknowledgement), not a new turn.

    The turn runner answers it from the stored turn and never runs the engine on it again.
    """

    code = "already_processed"
    http_status = 200

    def __init__(self, turn: Turn) -> None:
        super().__init__("this message was already processed", details={"message_id": turn.message_id})
        self.turn = turn


class TurnPage(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    turns: list[Turn]
    #: Opaque cursor for the next (older) page, or None at the end.
    next_cursor: str | None = None
