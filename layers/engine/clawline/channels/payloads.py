"""The message body a client sends on any channel, and its strict parsing.

The same shape travels over HTTP (request body), WebSocket (frame) and MQTT (publish payload), so a client
library can talk to every channel alike.
"""

# No `from __future__ import annotations`: pydantic would evaluate each field's annotation string when it creates
# these classes at import (clawline.bot.models does the same).

import json
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticValidationError

from clawline.attachments.limits import MAX_PER_MESSAGE
from clawline.attachments.models import AttachmentReference, InlineAttachment
from clawline.errors import InvalidInputError, PayloadTooLargeError
from clawline.messages import Channel, Identifier, InboundMessage, MetadataValue

#: JSON escaping can grow text up to 6x (\uXXXX); the envelope limit leaves room for that and the other fields.
ENVELOPE_FACTOR = 6
ENVELOPE_SLACK = 8 * 1024


class MessagePayload(BaseModel):
    """What a client sends. Unknown fields are refused: a typo must not silently drop data."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    text: Annotated[str, StringConstraints(min_length=1)]
    conversation_id: Identifier | None = None
    message_id: Identifier | None = None
    metadata: Annotated[
        dict[Annotated[str, StringConstraints(max_length=64)], MetadataValue], Field(max_length=32)
    ] = {}
    #: References to uploads (HTTP, WebSocket) or small base64 payloads (MQTT): ``clawline.attachments``.
    attachments: Annotated[list[AttachmentReference | InlineAttachment], Field(max_length=MAX_PER_MESSAGE)] = []


def envelope_limit(max_text_bytes: int, *, inline_attachment_bytes: int = 0) -> int:
    """The largest body worth parsing; MQTT adds room for its inline attachments (base64 is 4/3 of the bytes)."""
    return max_text_bytes * ENVELOPE_FACTOR + ENVELOPE_SLACK + -(-inline_attachment_bytes // 3) * 4


def validation_details(exc: PydanticValidationError) -> list[dict[str, Any]]:
    """Pydantic errors without the offending input: it may be large or sensitive."""
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "problem": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False, include_context=False)
    ]


class _NotStrictJsonError(ValueError):
    """``NaN``/``Infinity`` (not JSON, RFC 8259) or a repeated key (parsers disagree on which one wins)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _no_constants(name: str) -> Any:
    raise _NotStrictJsonError(f"{name} is not a JSON number", "not_json_number")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _NotStrictJsonError(f"the key {key[:64]!r} appears twice", "duplicate_key")
        out[key] = value
    return out


def decode_json_object(raw: bytes | str, *, max_bytes: int) -> dict[str, Any]:
    """Parse a JSON object, refusing oversize, non-UTF-8, non-JSON and non-object bodies with clear errors.

    Strict on what other parsers read differently: ``NaN``/``Infinity`` and duplicate keys are refused (a
    proxy that validated the first ``text`` must not see another one win here).
    """
    size = len(raw.encode("utf-8", errors="surrogatepass")) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        raise PayloadTooLargeError(
            f"body is {size} bytes, over the limit of {max_bytes} bytes", details={"max_bytes": max_bytes}
        )
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text, parse_constant=_no_constants, object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as exc:
        raise InvalidInputError("body is not UTF-8 text", details={"reason": "not_utf8"}) from exc
    except _NotStrictJsonError as exc:
        raise InvalidInputError(f"body is not strict JSON: {exc}", details={"reason": exc.reason}) from exc
    except ValueError as exc:
        raise InvalidInputError(f"body is not valid JSON: {exc}", details={"reason": "malformed_json"}) from exc
    except RecursionError as exc:
        # json recurses once per nesting level: "[[[[..." under the size limit would otherwise escape as a crash.
        raise InvalidInputError("body is nested too deeply", details={"reason": "too_deep"}) from exc
    if not isinstance(value, dict):
        raise InvalidInputError("body must be a JSON object", details={"reason": "not_an_object"})
    return value


def parse_payload(data: dict[str, Any], *, max_text_bytes: int) -> MessagePayload:
    try:
        payload = MessagePayload.model_validate(data)
    except PydanticValidationError as exc:
        raise InvalidInputError(
            "message does not match the schema", details={"errors": validation_details(exc)}
        ) from exc
    size = len(payload.text.encode("utf-8", errors="surrogatepass"))
    if size > max_text_bytes:
        raise PayloadTooLargeError(
            f"text is {size} bytes, over the limit of {max_text_bytes} bytes", details={"max_bytes": max_text_bytes}
        )
    return payload


def to_inbound(
    payload: MessagePayload,
    *,
    channel: Channel,
    sender: str,
    owner: str | None = None,
    default_conversation_id: str | None = None,
    default_message_id: str | None = None,
    max_text_bytes: int,
) -> InboundMessage:
    """Build the engine's message; identity (``sender``, ``owner``) always comes from the channel, never the payload.

    Without a conversation id in the payload, ``default_conversation_id`` is the channel's own (``per_connection``)
    and the message says it named none: the bot's conversation scope decides (``clawline.conversation_scope``).
    """
    try:
        return InboundMessage.model_validate(
            {
                "message_id": payload.message_id or default_message_id or uuid.uuid4().hex,
                "channel": channel,
                "conversation_id": payload.conversation_id or default_conversation_id or uuid.uuid4().hex,
                "sender": sender,
                "owner": owner,
                "conversation_given": payload.conversation_id is not None,
                "text": payload.text,
                "metadata": payload.metadata,
            },
            context={"max_text_bytes": max_text_bytes},
        )
    except PydanticValidationError as exc:
        raise InvalidInputError("message is not valid", details={"errors": validation_details(exc)}) from exc
