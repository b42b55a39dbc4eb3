"""Models at the engine's edge: what comes in (``InboundMessage``) and what goes out (``Reply``).

Input models forbid unknown fields, so a misspelt field is an error instead of silently lost data.

Every engine model defers its build (``defer_build=True``): pydantic builds a model's validator and serializer the
first time it is used, not when its module is imported, so a cold start pays only for the models its turn uses
(the attachment, upload and listing models, for one, are never built by a text turn).
"""

# No `from __future__ import annotations`: pydantic would evaluate each field's annotation string when it creates
# these classes at import (clawline.bot.models does the same).

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

#: Default bound on one message's text, in UTF-8 bytes. Channels may pass another through the
#: validation context (``{"max_text_bytes": N}``) from the function's settings.
DEFAULT_MAX_TEXT_BYTES = 16 * 1024

#: Message and conversation ids are printable, bounded and free of separators used in storage keys.
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]

MetadataValue = str | int | float | bool | None


class Channel(StrEnum):
    HTTP = "http"
    WEBSOCKET = "websocket"
    MQTT = "mqtt"
    CLI = "cli"
    TEST = "test"


def utc_now() -> datetime:
    return datetime.now(UTC)


class Attachment(BaseModel):
    """A file sent with a message: an object in the uploads bucket that the channel found and checked before the
    turn (``clawline.attachments``). Rules see it as ``attachments``, plugins as ``ctx.message.attachments``."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    kind: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    #: The attachment id; the object is ``uploads/{owner}/{id}`` in the uploads bucket (``object_key``).
    id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    content_type: Annotated[str, StringConstraints(min_length=1, max_length=127)] | None = None
    #: Bytes, as stored (the channel compared it with what the client declared).
    size: Annotated[int, Field(ge=0)] | None = None
    #: Where the object is (``s3://bucket/key``), for plugins that read it with their own declared permissions.
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    name: Annotated[str, StringConstraints(max_length=256)] | None = None


class InboundMessage(BaseModel):
    """One user message, already authenticated: ``sender`` is the principal the channel vouched for."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    message_id: Identifier
    channel: Channel
    conversation_id: Identifier
    sender: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    text: str
    attachments: Annotated[list[Attachment], Field(max_length=10)] = []
    metadata: Annotated[
        dict[Annotated[str, StringConstraints(max_length=64)], MetadataValue], Field(max_length=32)
    ] = {}
    received_at: datetime = Field(default_factory=utc_now)
    #: Whose conversations the message belongs to: an owner key (``clawline.principals``), the sender's own or,
    #: for a paired device, its user's. None: ``sender`` itself (the CLI, story tests).
    owner: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None
    #: False when the client named no conversation: ``conversation_id`` is then the channel's own default (per
    #: socket user, per device, per request) and the bot's ``conversation_scope`` decides which one is used.
    conversation_given: bool = True

    @property
    def owner_key(self) -> str:
        """The key the conversation store keeps this message's conversation under."""
        return self.owner or self.sender

    @field_validator("text")
    @classmethod
    def _text_fits(cls, text: str, info: ValidationInfo) -> str:
        limit = DEFAULT_MAX_TEXT_BYTES
        if isinstance(info.context, dict):
            limit = int(info.context.get("max_text_bytes", limit))
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > limit:
            raise ValueError(f"text is {size} bytes, over the limit of {limit} bytes")
        return text


class OutboundMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    text: str
    #: Optional quick replies / buttons a client may render.
    buttons: list[str] = []


class Action(BaseModel):
    """Something the engine decided besides replying (hand off, publish, reject...)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    type: str
    params: dict[str, Any] = {}


class Entity(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    entity: str
    value: Any
    text: str
    start: int
    end: int
    extractor: str | None = None


class PluginCall(BaseModel):
    """One plugin hook call of a turn, for the trace and the per-plugin metrics (never sent or stored)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    plugin: str
    hook: str
    ms: float
    #: "timeout", "error" or "unavailable" when the call did not succeed.
    failure: str | None = None


class Reply(BaseModel):
    """The engine's answer to one ``InboundMessage``."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    message_id: str
    conversation_id: str
    messages: list[OutboundMessage] = []
    actions: list[Action] = []
    intent: str | None = None
    confidence: float | None = None
    entities: list[Entity] = []
    slots: dict[str, Any] = {}
    #: Names of the rules (or "fallback") that decided this reply, for debugging and tests.
    trace: list[str] = []
    # Diagnostics for the local console and the metrics: excluded from every dump, so they are never sent to a
    # client nor stored with the idempotency record (a replay answers without them).
    #: Rules whose condition was evaluated, in order (``trace`` lists the ones that fired).
    considered: list[str] = Field(default_factory=list, exclude=True)
    plugin_calls: list[PluginCall] = Field(default_factory=list, exclude=True)

    def __eq__(self, other: object) -> bool:
        # Equal when they answer the same: the diagnostics say how a reply was computed, and a replay (answered from
        # the idempotency store, where they are not kept) is the same reply.
        if not isinstance(other, Reply):
            return NotImplemented
        return self.model_dump(mode="json") == other.model_dump(mode="json")

    __hash__ = None  # type: ignore[assignment]  # as BaseModel's: mutable, compared by value

    @property
    def texts(self) -> list[str]:
        return [m.text for m in self.messages]
