"""Attachments for the channels: presign an upload, and turn a message's attachments into checked ``Attachment``s.

The channel calls ``resolve`` before the turn, with the principal it vouched for, so the engine only ever sees
attachments that exist, belong to the sender and are what they claim. Refusals are ``InvalidAttachmentError``
(422, permanent: an MQTT message is answered with an error and dead-lettered, not retried); an unavailable
store is ``RetryableError`` (503 with Retry-After, an error frame, or a Lambda retry on MQTT).

MQTT payloads are stored in the bucket rather than passed through in the event: every channel then gives the
engine the same thing (an object reference with id, kind, type and size), plugins never hold up to 64 KiB of
base64 in their context, a hand-off agent or a later plugin can still fetch the file after the invocation, and
the lifecycle rule expires it with the conversation. It costs one PutObject per inline attachment.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from clawline.attachments.errors import InvalidAttachmentError
from clawline.attachments.limits import (
    AttachmentLimits,
    check_size,
    check_type,
    inline_attachment_id,
    new_attachment_id,
    object_key,
)
from clawline.attachments.models import (
    AttachmentReference,
    InlineAttachment,
    UploadRequest,
    UploadResponse,
    UploadTarget,
)
from clawline.attachments.store import AttachmentStore
from clawline.messages import Attachment, Channel, InboundMessage

#: Channels whose clients upload first and send references (they can call ``POST /v1/uploads``).
REFERENCE_CHANNELS = frozenset({Channel.HTTP, Channel.WEBSOCKET})


class _Attaching:
    def resolve(
        self,
        items: Sequence[AttachmentReference | InlineAttachment],
        *,
        channel: Channel,
        owner: str,
        message_id: str | None,
    ) -> list[Attachment]:
        raise NotImplementedError

    def attach(
        self, message: InboundMessage, items: Sequence[AttachmentReference | InlineAttachment]
    ) -> InboundMessage:
        """The message with its attachments checked (the sender is the owner); channels call it after the rate
        limit, since each attachment costs an S3 request."""
        resolved = self.resolve(items, channel=message.channel, owner=message.owner_key, message_id=message.message_id)
        return message.model_copy(update={"attachments": resolved})


class AttachmentService(_Attaching):
    def __init__(self, store: AttachmentStore, limits: AttachmentLimits, *, upload_ttl_seconds: int) -> None:
        self.store = store
        self.limits = limits
        self.upload_ttl_seconds = upload_ttl_seconds

    def presign(self, request: UploadRequest, *, owner: str, now: datetime | None = None) -> UploadResponse:
        check_type(request.kind, request.content_type)
        check_size(request.size, self.limits.max_bytes)
        attachment_id = new_attachment_id()
        url = self.store.presign_put(
            object_key(owner, attachment_id),
            content_type=request.content_type,
            size=request.size,
            expires_in=self.upload_ttl_seconds,
        )
        expires = (now or datetime.now(UTC)) + timedelta(seconds=self.upload_ttl_seconds)
        return UploadResponse(
            attachment=AttachmentReference(
                id=attachment_id,
                kind=request.kind,
                content_type=request.content_type,
                size=request.size,
                name=request.filename,
            ),
            # Content-Length is signed too; every HTTP client sets it from the body.
            upload=UploadTarget(url=url, headers={"Content-Type": request.content_type}),
            expires_at=expires.isoformat(timespec="seconds"),
        )

    def resolve(
        self,
        items: Sequence[AttachmentReference | InlineAttachment],
        *,
        channel: Channel,
        owner: str,
        message_id: str | None,
    ) -> list[Attachment]:
        if channel in REFERENCE_CHANNELS:
            return [self._referenced(item, index, owner) for index, item in enumerate(items)]
        return self._inline(items, owner, message_id)

    def _referenced(self, item: AttachmentReference | InlineAttachment, index: int, owner: str) -> Attachment:
        if not isinstance(item, AttachmentReference):
            raise InvalidAttachmentError(
                "inline attachments are for MQTT devices; upload the file with POST /v1/uploads and send its id",
                reason="inline_not_accepted",
                index=index,
            )
        check_type(item.kind, item.content_type, index=index)
        key = object_key(owner, item.id)
        found = self.store.head(key)
        if found is None:
            # Also what another owner's id gives: it names no object under this owner's prefix.
            raise InvalidAttachmentError(
                "no uploaded attachment with this id (uploads expire; upload it again)", reason="not_found", index=index
            )
        if found.size != item.size or found.size > self.limits.max_bytes:
            raise InvalidAttachmentError(
                f"the uploaded object is {found.size} bytes, not the {item.size} declared",
                reason="size_mismatch",
                index=index,
            )
        if found.content_type != item.content_type:
            raise InvalidAttachmentError(
                "the uploaded object's content type is not the one declared", reason="type_mismatch", index=index
            )
        return Attachment(
            id=item.id,
            kind=item.kind.value,
            content_type=item.content_type,
            size=found.size,
            name=item.name,
            url=self.store.url(key),
        )

    def _inline(
        self, items: Sequence[AttachmentReference | InlineAttachment], owner: str, message_id: str | None
    ) -> list[Attachment]:
        decoded: list[tuple[InlineAttachment, bytes]] = []
        for index, item in enumerate(items):
            if not isinstance(item, InlineAttachment):
                raise InvalidAttachmentError(
                    "MQTT devices send attachments inline: {kind, content_type, data (base64)}",
                    reason="reference_not_accepted",
                    index=index,
                )
            check_type(item.kind, item.content_type, index=index)
            try:
                data = base64.b64decode(item.data, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise InvalidAttachmentError("data is not base64", reason="not_base64", index=index) from exc
            decoded.append((item, data))
        check_size(sum(len(data) for _, data in decoded), self.limits.inline_max_bytes)
        if decoded and message_id is None:  # the channel requires one; the id of the object is derived from it
            raise InvalidAttachmentError("inline attachments need a message_id", reason="no_message_id")
        out: list[Attachment] = []
        for index, (item, data) in enumerate(decoded):
            assert message_id is not None
            attachment_id = inline_attachment_id(owner, message_id, index)
            key = object_key(owner, attachment_id)
            self.store.put(key, data, content_type=item.content_type)
            out.append(
                Attachment(
                    id=attachment_id,
                    kind=item.kind.value,
                    content_type=item.content_type,
                    size=len(data),
                    name=item.name,
                    url=self.store.url(key),
                )
            )
        return out


class NoAttachments(_Attaching):
    """A deployment without an uploads bucket: messages carry no attachments, and there is nothing to upload to."""

    def presign(self, request: UploadRequest, *, owner: str, now: datetime | None = None) -> UploadResponse:
        from clawline.errors import NotFoundError

        raise NotFoundError("this deployment takes no attachments (no uploads bucket)")

    def resolve(
        self,
        items: Sequence[AttachmentReference | InlineAttachment],
        *,
        channel: Channel,
        owner: str,
        message_id: str | None,
    ) -> list[Attachment]:
        if items:
            raise InvalidAttachmentError("this deployment takes no attachments", reason="not_enabled")
        return []
