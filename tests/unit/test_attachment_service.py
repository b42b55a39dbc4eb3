"""Attachment limits, ownership and inline payloads, without AWS (the in-memory store plays S3's part)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from clawline.attachments.errors import InvalidAttachmentError
from clawline.attachments.limits import AttachmentLimits, Kind, object_key, owner_prefix
from clawline.attachments.models import AttachmentReference, InlineAttachment, UploadRequest
from clawline.attachments.service import AttachmentService, NoAttachments
from clawline.attachments.store import InMemoryAttachmentStore
from clawline.channels.payloads import parse_payload
from clawline.errors import InvalidInputError, NotFoundError, PayloadTooLargeError
from clawline.messages import Channel, InboundMessage

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 120


@pytest.fixture
def store() -> InMemoryAttachmentStore:
    return InMemoryAttachmentStore()


@pytest.fixture
def service(store: InMemoryAttachmentStore) -> AttachmentService:
    return AttachmentService(store, AttachmentLimits(max_bytes=1000, inline_max_bytes=300), upload_ttl_seconds=300)


def upload(service: AttachmentService, store: InMemoryAttachmentStore, owner: str, data: bytes = PNG) -> dict:
    answer = service.presign(UploadRequest(kind=Kind.IMAGE, content_type="image/png", size=len(data)), owner=owner)
    assert store.upload(answer.upload.url, data, content_type=answer.upload.headers["Content-Type"])
    return answer.attachment.model_dump(mode="json")


def message(sender: str, channel: Channel = Channel.HTTP) -> InboundMessage:
    return InboundMessage(message_id="m-1", channel=channel, conversation_id="c", sender=sender, text="look")


def refs(*items: dict) -> list[AttachmentReference | InlineAttachment]:
    return parse_payload({"text": "look", "attachments": list(items)}, max_text_bytes=1000).attachments


def test_an_uploaded_attachment_reaches_the_message_with_its_stored_size_and_type(service, store):
    ref = upload(service, store, "alice")
    attached = service.attach(message("alice"), refs(ref))
    (got,) = attached.attachments
    assert (got.id, got.kind, got.content_type, got.size) == (ref["id"], "image", "image/png", len(PNG))
    assert got.url == store.url(object_key("alice", ref["id"]))


def test_another_owners_upload_is_refused_like_an_unknown_one(service, store):
    ref = upload(service, store, "alice")
    with pytest.raises(InvalidAttachmentError) as refused:
        service.attach(message("mallory"), refs(ref))
    assert refused.value.details["reason"] == "not_found"
    unknown = {**ref, "id": "f" * 32}
    with pytest.raises(InvalidAttachmentError) as unknown_refused:
        service.attach(message("alice"), refs(unknown))
    assert unknown_refused.value.to_body()["message"] == refused.value.to_body()["message"]


def test_owners_have_separate_prefixes_that_do_not_spell_out_the_user():
    assert owner_prefix("alice") != owner_prefix("bob")
    assert "alice" not in owner_prefix("alice")
    assert owner_prefix("auth0|alice@example.com").startswith("uploads/")


@pytest.mark.parametrize(
    ("declared", "reason"),
    [({"size": len(PNG) + 1}, "size_mismatch"), ({"content_type": "image/jpeg"}, "type_mismatch")],
)
def test_a_reference_that_does_not_match_the_stored_object_is_refused(service, store, declared, reason):
    ref = upload(service, store, "alice")
    with pytest.raises(InvalidAttachmentError) as refused:
        service.attach(message("alice"), refs({**ref, **declared}))
    assert refused.value.details == {"reason": reason, "index": 0}


def test_an_object_uploaded_past_the_presigned_limits_is_refused_at_message_time(service, store):
    # S3 refuses a PUT whose length differs from the signed one; an object written some other way is still checked.
    ref = upload(service, store, "alice")
    store.put(object_key("alice", ref["id"]), b"x" * 5000, content_type="image/png")
    with pytest.raises(InvalidAttachmentError) as refused:
        service.attach(message("alice"), refs({**ref, "size": 5000}))
    assert refused.value.details["reason"] == "size_mismatch"


def test_the_presigned_upload_accepts_only_the_declared_length_and_type(service, store):
    answer = service.presign(UploadRequest(kind=Kind.IMAGE, content_type="image/png", size=len(PNG)), owner="alice")
    assert not store.upload(answer.upload.url, PNG + b"more", content_type="image/png")
    assert not store.upload(answer.upload.url, PNG, content_type="text/html")
    assert store.upload(answer.upload.url, PNG, content_type="image/png")


def test_an_upload_over_the_limit_is_refused_before_any_url_is_made(service, store):
    with pytest.raises(PayloadTooLargeError) as refused:
        service.presign(UploadRequest(kind=Kind.FILE, content_type="application/pdf", size=1001), owner="alice")
    assert refused.value.details["max_bytes"] == 1000


@pytest.mark.parametrize(("kind", "content_type"), [(Kind.IMAGE, "image/svg+xml"), (Kind.AUDIO, "image/png")])
def test_a_content_type_not_allowed_for_its_kind_is_refused(service, kind, content_type):
    with pytest.raises(InvalidAttachmentError) as refused:
        service.presign(UploadRequest(kind=kind, content_type=content_type, size=10), owner="alice")
    assert refused.value.details["reason"] == "type_not_allowed"
    assert content_type not in refused.value.details["allowed"]  # type: ignore[operator]


def test_the_upload_answer_says_when_the_url_expires(service):
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    answer = service.presign(UploadRequest(kind=Kind.IMAGE, content_type="image/png", size=10), owner="a", now=now)
    assert answer.expires_at == "2026-01-01T12:05:00+00:00"


def test_an_mqtt_inline_payload_is_stored_under_the_things_prefix(service, store):
    items = refs({"kind": "image", "content_type": "image/png", "data": base64.b64encode(PNG).decode()})
    attached = service.attach(message("kitchen-1", Channel.MQTT), items)
    (got,) = attached.attachments
    assert got.size == len(PNG) and got.content_type == "image/png"
    assert store.read(object_key("kitchen-1", got.id or "")) == PNG
    # A redelivery of the same message names the same object.
    assert service.attach(message("kitchen-1", Channel.MQTT), items).attachments[0].id == got.id


def test_inline_payloads_over_the_inline_limit_are_refused(service):
    big = base64.b64encode(b"x" * 200).decode()
    items = refs(*[{"kind": "file", "content_type": "text/plain", "data": big}] * 2)
    with pytest.raises(PayloadTooLargeError) as refused:
        service.attach(message("kitchen-1", Channel.MQTT), items)
    assert refused.value.details["max_bytes"] == 300


def test_inline_data_that_is_not_base64_is_refused(service):
    items = refs({"kind": "file", "content_type": "text/plain", "data": "not base64!"})
    with pytest.raises(InvalidAttachmentError) as refused:
        service.attach(message("kitchen-1", Channel.MQTT), items)
    assert refused.value.details["reason"] == "not_base64"


def test_each_channel_takes_its_own_form(service, store):
    inline = refs({"kind": "file", "content_type": "text/plain", "data": "aGk="})
    with pytest.raises(InvalidAttachmentError) as on_http:
        service.attach(message("alice", Channel.WEBSOCKET), inline)
    assert on_http.value.details["reason"] == "inline_not_accepted"
    with pytest.raises(InvalidAttachmentError) as on_mqtt:
        service.attach(message("kitchen-1", Channel.MQTT), refs(upload(service, store, "kitchen-1")))
    assert on_mqtt.value.details["reason"] == "reference_not_accepted"


def test_a_message_carries_at_most_four_attachments_and_no_unknown_fields():
    item = {"id": "a" * 32, "kind": "image", "content_type": "image/png", "size": 1}
    with pytest.raises(InvalidInputError):
        refs(*[item] * 5)
    with pytest.raises(InvalidInputError):
        refs({**item, "url": "https://elsewhere.example/x.png"})
    with pytest.raises(InvalidInputError):
        refs({**item, "name": "../../etc/passwd"})


def test_without_a_bucket_attachments_are_refused_and_uploads_not_found():
    with pytest.raises(InvalidAttachmentError):
        NoAttachments().attach(message("alice"), refs({"kind": "file", "content_type": "text/plain", "data": "aGk="}))
    assert NoAttachments().attach(message("alice"), []).attachments == []
    with pytest.raises(NotFoundError):
        NoAttachments().presign(UploadRequest(kind=Kind.IMAGE, content_type="image/png", size=1), owner="a")
