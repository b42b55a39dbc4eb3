"""R9-R12: what API Gateway's limits do to WebSocket and HTTP traffic, and how the adapters stay inside them."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawline.channels.connections import DynamoDBConnectionStore
from clawline.channels.payloads import envelope_limit
from clawline.channels.websocket import WebSocketNotifier
from clawline.messages import DEFAULT_MAX_TEXT_BYTES
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.tokens import Issuer
from tests.security.conftest import bearer, invoke_http, invoke_ws, ws_connect, ws_message

API_GATEWAY_MESSAGE_LIMIT = 128 * 1024
API_GATEWAY_FRAME_LIMIT = 32 * 1024


def management_client() -> Any:
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url="https://example.execute-api.us-east-1.amazonaws.com/dev"
    )


def test_r09_gone_connection_is_forgotten_and_delivery_to_the_others_continues(stack: Stack) -> None:
    connections = DynamoDBConnectionStore(stack.dynamodb(), stack.tables["ConnectionsTable"])
    connections.add("gone-1", "alice")
    connections.add("live-2", "alice")
    client = management_client()
    stubber = Stubber(client)
    stubber.add_client_error("post_to_connection", "GoneException", http_status_code=410)
    stubber.add_response("post_to_connection", {}, {"ConnectionId": "live-2", "Data": ANY})
    notifier = WebSocketNotifier(client, connections.remove)

    with stubber:
        assert sorted(connections.by_principal("alice")) == ["gone-1", "live-2"]
        delivered = {cid: notifier.send(cid, {"type": "reply", "text": "hi"}) for cid in ("gone-1", "live-2")}
        stubber.assert_no_pending_responses()

    assert sorted(delivered.items()) == [("gone-1", False), ("live-2", True)]
    assert connections.get("gone-1") is None
    assert connections.get("live-2") is not None


class RecordingManagementApi:
    """Stands in for the @connections client: keeps every frame and enforces API Gateway's size limits."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:  # noqa: N803 - boto3 names
        if len(Data) > API_GATEWAY_FRAME_LIMIT:
            raise AssertionError(f"frame of {len(Data)} bytes would be refused by API Gateway")
        self.frames.append(Data)
        return {}


def reassemble(frames: list[bytes]) -> dict[str, Any]:
    first = json.loads(frames[0])
    if first.get("type") != "chunk":
        assert len(frames) == 1
        return dict(first)
    chunks = sorted((json.loads(f) for f in frames), key=lambda c: c["seq"])
    assert [c["seq"] for c in chunks] == list(range(first["total"]))
    assert {c["id"] for c in chunks} == {first["id"]}
    return dict(json.loads("".join(c["data"] for c in chunks)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.text(min_size=0, max_size=400_000))
def test_r10_outbound_replies_never_exceed_api_gateway_limits_and_reassemble_exactly(text: str) -> None:
    api = RecordingManagementApi()
    message = {"type": "reply", "messages": [{"text": text}]}
    assert WebSocketNotifier(api, lambda _cid: None).send("c1", message) is True
    assert all(len(f) <= API_GATEWAY_MESSAGE_LIMIT for f in api.frames)
    assert reassemble(api.frames) == message


def test_r10_a_reply_api_gateway_refuses_as_too_large_is_not_a_crash(stack: Stack) -> None:
    connections = DynamoDBConnectionStore(stack.dynamodb(), stack.tables["ConnectionsTable"])
    connections.add("big-1", "alice")
    client = management_client()
    stubber = Stubber(client)
    stubber.add_client_error("post_to_connection", "PayloadTooLargeException", http_status_code=413)
    with stubber:
        delivered = WebSocketNotifier(client, connections.remove).send("big-1", {"type": "reply", "text": "x"})
    assert delivered is False
    assert connections.get("big-1") is not None  # too large is not gone: the connection stays


def test_r11_oversize_websocket_message_gets_an_error_frame_and_no_turn(stack: Stack, engine_calls: list[str]) -> None:
    assert invoke_ws(ws_connect("conn-r11", "alice")) == {"statusCode": 200}
    body = json.dumps({"text": "x" * (DEFAULT_MAX_TEXT_BYTES + 1), "message_id": "big"})
    assert len(body) < API_GATEWAY_MESSAGE_LIMIT  # API Gateway would deliver it; the app must refuse it

    assert invoke_ws(ws_message("conn-r11", body)) == {"statusCode": 200}

    (frame,) = stack.recorder.frames("conn-r11")
    assert frame["type"] == "error"
    assert frame["error"] == "payload_too_large"
    assert frame["details"]["max_bytes"] == DEFAULT_MAX_TEXT_BYTES
    assert engine_calls == []


def test_r11_websocket_body_over_the_envelope_limit_is_refused_before_parsing(
    stack: Stack, engine_calls: list[str]
) -> None:
    invoke_ws(ws_connect("conn-r11b", "alice"))
    body = "[" * (envelope_limit(DEFAULT_MAX_TEXT_BYTES) + 1)  # would be a deep-nesting bomb if parsed
    invoke_ws(ws_message("conn-r11b", body))
    (frame,) = stack.recorder.frames("conn-r11b")
    assert frame["error"] == "payload_too_large"
    assert frame["details"]["max_bytes"] == envelope_limit(DEFAULT_MAX_TEXT_BYTES)
    assert engine_calls == []


def test_r12_http_body_over_the_limit_is_413_with_a_json_problem_body(
    http: TestClient, issuer: Issuer, stack: Stack
) -> None:
    limit = envelope_limit(DEFAULT_MAX_TEXT_BYTES)
    body = b"{" + b" " * limit + b"}"  # limit + 2 bytes of otherwise valid JSON
    response = http.post(
        "/v1/messages", content=body, headers={**bearer(issuer.token()), "content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "payload_too_large"
    assert response.json()["details"]["max_bytes"] == limit
    assert stack.count_items("StateTable") == 0


def test_r12_base64_encoded_oversize_body_through_mangum_is_413(stack: Stack) -> None:
    limit = envelope_limit(DEFAULT_MAX_TEXT_BYTES)
    event = load_event("http/post_message_base64.json")
    event["body"] = base64.b64encode(b"[" * (limit + 1)).decode()
    event["isBase64Encoded"] = True
    status, body, headers = invoke_http(event)
    assert status == 413
    assert body is not None and body["error"] == "payload_too_large"
    assert headers["content-type"] == "application/json"
    assert stack.count_items("StateTable") == 0


@pytest.mark.parametrize("size", [DEFAULT_MAX_TEXT_BYTES, DEFAULT_MAX_TEXT_BYTES + 1])
def test_r12_the_text_limit_is_exact(http: TestClient, issuer: Issuer, size: int) -> None:
    response = http.post("/v1/messages", json={"text": "a" * size}, headers=bearer(issuer.token()))
    assert response.status_code == (200 if size == DEFAULT_MAX_TEXT_BYTES else 413)
