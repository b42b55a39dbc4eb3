"""What clients send and get about attachments: the upload request and its answer, and the two ways a message
carries an attachment (a reference to an upload on HTTP and WebSocket, an inline payload on MQTT)."""

# No `from __future__ import annotations`: pydantic would evaluate each field's annotation string when it creates
# these classes at import (clawline.bot.models does the same).

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from clawline.attachments.limits import Kind

#: ``type/subtype`` (RFC 6838 names, no parameters): the allow-list decides which ones are accepted.
_MIME_NAME = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*"
ContentType = Annotated[str, StringConstraints(min_length=3, max_length=127, pattern=rf"^{_MIME_NAME}/{_MIME_NAME}$")]
#: A label for people (shown, never used as a path): no control characters, no path separators.
FileName = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f/\\]+$")]
AttachmentId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
#: base64 of at most 64 KiB (the largest inline limit a function may set): with the rest of the message it fits
#: IoT Core's 128 KB, and any channel's envelope limit.
InlineData = Annotated[str, StringConstraints(min_length=4, max_length=87_384)]


class UploadRequest(BaseModel):
    """``POST /v1/uploads``: what the client is about to upload."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Kind
    content_type: ContentType
    size: Annotated[int, Field(ge=1, description="bytes; the upload must be exactly this long")]
    filename: FileName | None = None


class AttachmentReference(BaseModel):
    """An uploaded attachment named in a message (HTTP, WebSocket): the ``attachment`` of the upload's answer."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    id: AttachmentId
    kind: Kind
    content_type: ContentType
    size: Annotated[int, Field(ge=1)]
    name: FileName | None = None


class InlineAttachment(BaseModel):
    """A small attachment sent inside an MQTT message, base64-encoded (``data``)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    kind: Kind
    content_type: ContentType
    data: InlineData
    name: FileName | None = None


class UploadTarget(BaseModel):
    """How to send the bytes: one HTTP request, with exactly these headers (S3 refuses any other length or type)."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    method: str = "PUT"
    url: str
    headers: dict[str, str]


class UploadResponse(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)

    #: Put this in the message's ``attachments`` once the upload succeeded.
    attachment: AttachmentReference
    upload: UploadTarget
    #: When the upload URL stops working (ISO 8601, UTC).
    expires_at: str
