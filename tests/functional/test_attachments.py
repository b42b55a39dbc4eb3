"""Attachments end to end against moto's S3 server: presign with POST /v1/uploads, PUT the bytes with httpx, send a
message that references the upload, and a rule answers about it; MQTT devices send small files inline.

moto does not check presigned signatures, so what S3 itself refuses (a PUT of another length or content type) is
asserted on the URL's signed headers; what reaches a message anyway is refused by the function's HeadObject check.
"""

from __future__ import annotations

import base64
import json
import textwrap
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

import http_app
import mqtt_handler
import websocket_handler
from bench.meter import metering, operations
from clawline import composition
from clawline.attachments.limits import object_key
from clawline.principals import PrincipalKind, owner_key
from tests.functional.conftest import Stack
from tests.helpers.aws import client
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
BOT = """
name: attachbot
settings: {mode: rules}
responses:
  fallback: ["Sorry?"]
  photo: ["Nice photo!"]
  voice: ["I will listen to it."]
  text_only: ["Just text."]
rules:
  - name: photo
    when: attachments.exists(a, a.kind == "image" && a.content_type.startsWith("image/"))
    then: [{reply: photo}]
  - name: voice
    when: attachments.size() > 0 && attachments[0].kind == "audio"
    then: [{reply: voice}]
  - name: text_only
    when: attachments.size() == 0
    then: [{reply: text_only}]
"""


@pytest.fixture
def bot_stack(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The template's stack serving a bot whose rules test attachments."""
    (tmp_path / "attachbot").mkdir()
    (tmp_path / "attachbot" / "bot.yaml").write_text(textwrap.dedent(BOT), encoding="utf-8")
    monkeypatch.setenv("CLAWLINE_BOT_PATH", str(tmp_path / "attachbot"))
    monkeypatch.setenv("CLAWLINE_ATTACHMENT_MAX_BYTES", str(64 * 1024))
    mqtt_handler.dead_letters.cache_clear()
    composition.reset()
    return stack


def http(path: str, body: Any, *, sub: str = "alice") -> tuple[int, dict[str, Any]]:
    event = load_event("http/create_upload.json" if path == "/v1/uploads" else "http/post_message.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/dev{path}"
    event["body"] = json.dumps(body)
    event["requestContext"]["authorizer"]["lambda"]["sub"] = sub
    response = http_app.handler(event, lambda_context("clawline-http"))
    return response["statusCode"], json.loads(response["body"])


def upload(data: bytes, *, sub: str = "alice", kind: str = "image", content_type: str = "image/png") -> dict[str, Any]:
    status, answer = http("/v1/uploads", {"kind": kind, "content_type": content_type, "size": len(data)}, sub=sub)
    assert status == 200, answer
    put = httpx.put(answer["upload"]["url"], content=data, headers=answer["upload"]["headers"])
    assert put.status_code == 200, put.text
    attachment: dict[str, Any] = answer["attachment"]
    return attachment


def bucket_objects(stack: Stack) -> dict[str, dict[str, Any]]:
    s3 = client("s3", stack.endpoint)
    (bucket,) = stack.buckets.values()
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.head_object(Bucket=bucket, Key=o["Key"]) for o in listed}


def test_an_uploaded_photo_referenced_by_a_message_reaches_the_rules(bot_stack: Stack) -> None:
    attachment = upload(PNG)
    status, reply = http("/v1/messages", {"text": "look at this", "attachments": [attachment]})
    assert status == 200, reply
    assert [r["text"] for r in reply["replies"]] == ["Nice photo!"]
    (key,) = bucket_objects(bot_stack)
    assert key == object_key(owner_key(PrincipalKind.USER, "alice"), attachment["id"])
    assert http("/v1/messages", {"text": "and now just text"})[1]["replies"][0]["text"] == "Just text."


def test_the_presigned_put_signs_length_and_type_so_s3_refuses_any_other_upload(bot_stack: Stack) -> None:
    status, answer = http("/v1/uploads", {"kind": "audio", "content_type": "audio/ogg", "size": 1234})
    assert status == 200, answer
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(answer["upload"]["url"]).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert set(query["X-Amz-SignedHeaders"][0].split(";")) >= {"content-length", "content-type", "host"}
    assert query["X-Amz-Expires"] == ["300"]
    assert answer["upload"]["method"] == "PUT"
    assert answer["upload"]["headers"] == {"Content-Type": "audio/ogg"}
    assert answer["attachment"]["size"] == 1234 and len(answer["attachment"]["id"]) == 32


@pytest.mark.parametrize(
    ("request_body", "status", "code"),
    [
        ({"kind": "image", "content_type": "image/png", "size": 64 * 1024 + 1}, 413, "payload_too_large"),
        ({"kind": "image", "content_type": "image/svg+xml", "size": 10}, 422, "invalid_attachment"),
        ({"kind": "audio", "content_type": "application/pdf", "size": 10}, 422, "invalid_attachment"),
        ({"kind": "video", "content_type": "video/mp4", "size": 10}, 422, "invalid_input"),
        ({"kind": "file", "content_type": "text/plain", "size": 0}, 422, "invalid_input"),
        ({"kind": "file", "content_type": "text/plain", "size": 10, "owner": "bob"}, 422, "invalid_input"),
    ],
)
def test_an_upload_outside_the_limits_is_refused_by_the_route_with_no_url(
    bot_stack: Stack, request_body: dict[str, Any], status: int, code: str
) -> None:
    got, body = http("/v1/uploads", request_body)
    assert (got, body["error"]) == (status, code)
    assert body["message"] and "upload" not in body


def test_an_object_that_is_not_what_was_declared_is_refused_and_nothing_is_stored(bot_stack: Stack) -> None:
    status, answer = http("/v1/uploads", {"kind": "image", "content_type": "image/png", "size": len(PNG)})
    assert status == 200
    # moto accepts what real S3 would refuse (a longer body, another type): the message's check still catches it.
    httpx.put(answer["upload"]["url"], content=PNG + b"extra", headers={"Content-Type": "text/html"})
    status, body = http("/v1/messages", {"text": "look", "attachments": [answer["attachment"]]})
    assert (status, body["error"], body["details"]["reason"]) == (422, "invalid_attachment", "size_mismatch")
    assert bot_stack.count_items("StateTable") == 0


def test_another_users_upload_is_refused_as_unknown(bot_stack: Stack) -> None:
    attachment = upload(PNG, sub="alice")
    status, body = http("/v1/messages", {"text": "mine now", "attachments": [attachment]}, sub="mallory")
    assert (status, body["error"], body["details"]) == (422, "invalid_attachment", {"reason": "not_found", "index": 0})
    status, unknown = http("/v1/messages", {"text": "x", "attachments": [{**attachment, "id": "0" * 32}]})
    assert unknown["message"] == body["message"]
    assert bot_stack.count_items("StateTable") == 0


def test_a_turn_pays_one_head_object_per_attachment_and_none_without(bot_stack: Stack) -> None:
    attachment = upload(PNG)
    http("/v1/messages", {"text": "warm up", "conversation_id": "cost"})
    with metering() as meter:
        mark = meter.mark()
        http("/v1/messages", {"text": "plain", "conversation_id": "cost"})
        plain = operations(meter.since(mark))
        mark = meter.mark()
        http("/v1/messages", {"text": "photo", "conversation_id": "cost", "attachments": [attachment]})
        with_photo = operations(meter.since(mark))
    assert not [op for op in plain if op.startswith("s3.")]
    assert with_photo - plain == Counter({"s3.HeadObject": 1})


def ws_connect(connection_id: str, sub: str) -> None:
    event = load_event("websocket/connect.json")
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["authorizer"].update({"principalId": sub, "sub": sub})
    assert websocket_handler.handler(event, lambda_context("clawline-websocket")) == {"statusCode": 200}


def ws(body: dict[str, Any], connection_id: str) -> None:
    event = load_event("websocket/message.json")
    event["body"] = json.dumps(body)
    event["requestContext"]["connectionId"] = connection_id
    assert websocket_handler.handler(event, lambda_context("clawline-websocket")) == {"statusCode": 200}


def test_websocket_messages_reference_uploads_and_get_error_frames_for_bad_ones(bot_stack: Stack) -> None:
    ws_connect("alice-conn", "alice")
    ws_connect("bob-conn", "bob")
    voice = upload(b"OggS" + bytes(300), kind="audio", content_type="audio/ogg")
    ws({"text": "listen", "message_id": "w-1", "attachments": [voice]}, "alice-conn")
    ws({"text": "listen", "message_id": "w-2", "attachments": [voice]}, "bob-conn")
    inline = {"kind": "audio", "content_type": "audio/ogg", "data": base64.b64encode(b"OggS").decode()}
    ws({"text": "inline", "message_id": "w-3", "attachments": [inline]}, "alice-conn")
    reply, not_inline = bot_stack.recorder.frames("alice-conn")
    (not_yours,) = bot_stack.recorder.frames("bob-conn")
    assert reply["type"] == "reply" and reply["messages"][0]["text"] == "I will listen to it."
    assert (not_yours["type"], not_yours["message_id"], not_yours["error"]) == ("error", "w-2", "invalid_attachment")
    assert not_yours["details"]["reason"] == "not_found"
    assert (not_inline["error"], not_inline["details"]["reason"]) == ("invalid_attachment", "inline_not_accepted")


THING = "kitchen-speaker-1"


def device(payload: dict[str, Any]) -> dict[str, Any]:
    event = load_event("mqtt/message.json")
    event["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    result: dict[str, Any] = mqtt_handler.handler(event, lambda_context("clawline-mqtt"))
    return result


def test_an_mqtt_inline_photo_is_stored_for_the_thing_and_reaches_the_rules(bot_stack: Stack) -> None:
    assert mqtt_handler.handler(load_event("mqtt/message_with_attachment.json"), lambda_context("clawline-mqtt")) == {
        "status": "replied",
        "message_id": "dev-msg-0002",
    }
    (reply,) = bot_stack.recorder.published(f"clawline/{THING}/out")
    assert reply["messages"][0]["text"] == "Nice photo!"
    (key, head), *_ = bucket_objects(bot_stack).items()
    assert key.startswith(object_key(owner_key(PrincipalKind.THING, THING), ""))
    assert head["ContentType"] == "image/png" and head["ContentLength"] == 64


def test_bad_mqtt_attachments_get_an_error_reply_and_a_dead_letter(bot_stack: Stack) -> None:
    inline = {"kind": "image", "content_type": "image/svg+xml", "data": base64.b64encode(b"<svg/>").decode()}
    assert device({"text": "look", "message_id": "d-1", "attachments": [inline]}) == {
        "status": "rejected",
        "error": "invalid_attachment",
    }
    big = {"kind": "file", "content_type": "text/plain", "data": base64.b64encode(b"x" * (64 * 1024 + 1)).decode()}
    assert device({"text": "log", "message_id": "d-2", "attachments": [big]})["error"] == "payload_too_large"
    errors = bot_stack.recorder.published(f"clawline/{THING}/out")
    assert [(e["type"], e["message_id"], e["error"]) for e in errors] == [
        ("error", "d-1", "invalid_attachment"),
        ("error", "d-2", "payload_too_large"),
    ]
    assert [d["error"] for d in bot_stack.dead_letters()] == ["invalid_attachment", "payload_too_large"]
    assert bucket_objects(bot_stack) == {}
