"""Attachments through the local runtime (`make run`): the gateway's POST /v1/uploads, a real PUT of the bytes to the
presigned URL (moto's S3), messages that name the upload over HTTP and WebSocket, and a device's inline file."""

from __future__ import annotations

import base64

import httpx
import pytest

from clawline.attachments.limits import owner_prefix
from clawline.principals import PrincipalKind, owner_key
from local.runtime import Runtime
from tests.e2e.conftest import REPLY_TIMEOUT, Device, Http, WsClient, aws, unique

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.7\n" + b"0" * 2000


def upload(http: Http, data: bytes) -> dict[str, object]:
    answer = http.client.post(
        "/v1/uploads", json={"kind": "file", "content_type": "application/pdf", "size": len(data)}
    )
    assert answer.status_code == 200, answer.text
    target = answer.json()["upload"]
    put = httpx.request(target["method"], target["url"], content=data, headers=target["headers"], timeout=REPLY_TIMEOUT)
    assert put.status_code == 200, put.text
    attachment: dict[str, object] = answer.json()["attachment"]
    return attachment


def test_an_upload_is_named_in_messages_on_http_and_websocket_by_its_owner_only(runtime: Runtime) -> None:
    alice = Http(runtime, unique("alice-files"))
    attachment = upload(alice, PDF)
    reply = alice.say("here is my invoice", unique("files"), attachments=[attachment])
    assert reply["replies"], reply
    ws = WsClient(runtime, alice.token)
    try:
        frame = ws.say("and again", attachments=[attachment])
        assert frame["type"] == "reply", frame
    finally:
        ws.close()
    mallory = Http(runtime, unique("mallory"))
    refused = mallory.client.post("/v1/messages", json={"text": "mine", "attachments": [attachment]})
    assert refused.status_code == 422
    assert (refused.json()["error"], refused.json()["details"]["reason"]) == ("invalid_attachment", "not_found")


def test_an_upload_over_the_limit_gets_no_url(runtime: Runtime) -> None:
    http = Http(runtime, unique("big"))
    answer = http.client.post("/v1/uploads", json={"kind": "image", "content_type": "image/png", "size": 11 * 2**20})
    assert answer.status_code == 413 and answer.json()["error"] == "payload_too_large"


def test_a_devices_inline_file_lands_in_the_uploads_bucket(runtime: Runtime) -> None:
    thing = unique("camera")
    device = Device(runtime, thing)
    try:
        data = base64.b64encode(b"\xff\xd8\xff" + bytes(500)).decode()
        reply = device.say(
            "snapshot", unique("m"), attachments=[{"kind": "image", "content_type": "image/jpeg", "data": data}]
        )
        assert reply["type"] == "reply", reply
    finally:
        device.close()
    (bucket,) = runtime.buckets.values()
    prefix = owner_prefix(owner_key(PrincipalKind.THING, thing))
    listed = aws(runtime, "s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    assert [o["Size"] for o in listed] == [503]
