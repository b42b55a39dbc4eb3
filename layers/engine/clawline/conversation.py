"""Conversation memory: one small state item per conversation plus one item per turn.

The state never embeds the transcript, so no item grows without bound (DynamoDB caps items at 400 KB);
a bounded window of recent turns is loaded beside it for rules, templates and plugins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from clawline.messages import Channel, utc_now

#: How many recent turns a conversation keeps in its window (and loads per turn).
DEFAULT_WINDOW = 10
#: How many recent intents the state remembers.
LAST_INTENTS = 5


class Turn(BaseModel):
    """One exchange: the user's message and what the bot answered."""

    model_config = ConfigDict(extra="forbid")

    seq: int
    message_id: str
    channel: Channel
    user_text: str
    bot_texts: list[str] = []
    intent: str | None = None
    confidence: float | None = None
    created_at: datetime = Field(default_factory=utc_now)


class ConversationState(BaseModel):
    """What a conversation remembers between turns. ``version`` guards every write (optimistic locking)."""

    model_config = ConfigDict(extra="forbid")

    conversation_id: str
    owner: str
    version: int = 0
    slots: dict[str, Any] = {}
    active_form: str | None = None
    #: Where the active form is: None while filling slots, "confirm" (waiting for yes / no), "change".
    form_step: str | None = None
    last_intents: list[str] = []
    #: A short summary a plugin (e.g. a generative backend) may keep of older turns.
    summary: str | None = None
    updated_at: datetime = Field(default_factory=utc_now)
    #: Most recent turns, oldest first; loaded with the state, never stored inside it.
    recent_turns: list[Turn] = Field(default=[], exclude=True)

    @property
    def is_new(self) -> bool:
        return self.version == 0

    def remember_intent(self, intent: str | None) -> None:
        if intent:
            self.last_intents = [*self.last_intents, intent][-LAST_INTENTS:]


class TurnPage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    turns: list[Turn]
    #: Opaque cursor for the next (older) page, or None at the end.
    next_cursor: str | None = None
