"""What an attachment may be (kind, content type, size) and where its object lives: pure, no AWS.

The content types are an allow-list per kind: a type that browsers render as a document with scripts
(``image/svg+xml``, ``text/html``) is not on it, so an uploaded object can never become a stored page.
"""

from __future__ import annotations

import hashlib
import uuid
from enum import StrEnum
from typing import NamedTuple

from clawline.attachments.errors import InvalidAttachmentError
from clawline.errors import PayloadTooLargeError

#: Every object is under this prefix; the bucket's lifecycle rule and the functions' IAM policies name it.
PREFIX = "uploads/"
#: Attachments one message may carry (each costs one S3 request in the turn).
MAX_PER_MESSAGE = 4


class Kind(StrEnum):
    IMAGE = "image"
    AUDIO = "audio"
    FILE = "file"


CONTENT_TYPES: dict[Kind, frozenset[str]] = {
    Kind.IMAGE: frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic"}),
    Kind.AUDIO: frozenset(
        {"audio/mpeg", "audio/mp4", "audio/aac", "audio/ogg", "audio/opus", "audio/wav", "audio/webm", "audio/flac"}
    ),
    Kind.FILE: frozenset({"application/pdf", "text/plain", "text/csv", "application/json"}),
}


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class AttachmentLimits(NamedTuple):
    """The function's bounds on attachment sizes."""

    #: The largest object ``POST /v1/uploads`` presigns (bytes).
    max_bytes: int
    #: The largest decoded inline payload of one MQTT message, all its attachments together (bytes).
    inline_max_bytes: int


def check_type(kind: Kind, content_type: str, *, index: int | None = None) -> None:
    if content_type not in CONTENT_TYPES[kind]:
        raise InvalidAttachmentError(
            f"content type {content_type[:127]!r} is not accepted for {kind.value} attachments",
            reason="type_not_allowed",
            index=index,
            allowed=sorted(CONTENT_TYPES[kind]),
        )


def check_size(size: int, limit: int, *, index: int | None = None) -> None:
    if size > limit:
        details: dict[str, object] = {"reason": "too_large", "max_bytes": limit}
        if index is not None:
            details["index"] = index
        raise PayloadTooLargeError(f"attachment is {size} bytes, over the limit of {limit} bytes", details=details)


def owner_prefix(owner: str) -> str:
    """The owner's folder: a hash, so keys (in access logs, inventories) never spell out a user id or a
    ``sub`` with characters S3 keys handle badly; 128 bits keep owners apart."""
    return f"{PREFIX}{hashlib.sha256(owner.encode('utf-8')).hexdigest()[:32]}/"


def object_key(owner: str, attachment_id: str) -> str:
    return owner_prefix(owner) + attachment_id


def new_attachment_id() -> str:
    return uuid.uuid4().hex


def inline_attachment_id(owner: str, message_id: str, index: int) -> str:
    """Derived from the message: a redelivered MQTT message writes the same object again, not a second one."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"clawline:inline:{owner}:{message_id}:{index}").hex
