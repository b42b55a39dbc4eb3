"""The built WebSocket function in the emulator: $connect stores the connection, a message is answered through
the @connections API (the loopback recorder), an error is an error frame, $disconnect forgets the connection.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.helpers.aws import client
from tests.package.conftest import Functions, LoopbackAws, Sample, explain

pytestmark = pytest.mark.package


@pytest.fixture
def connection_id() -> str:
    """A fresh connection per test (API Gateway never sends $connect twice for one id)."""
    return f"{uuid.uuid4().hex[:14]}A="


@pytest.fixture
def ws_event(sample: Sample, connection_id: str) -> Sample:
    def event(name: str) -> dict[str, Any]:
        loaded = sample(f"websocket/{name}.json")
        loaded["requestContext"]["connectionId"] = connection_id
        return loaded

    return event


def call(functions: Functions, event: dict[str, Any]) -> dict[str, Any]:
    invocation = functions["WebSocketFunction"].invoke(event)
    assert not invocation.function_error, explain(invocation)
    payload: dict[str, Any] = invocation.payload
    return payload


def connection_item(aws: LoopbackAws, connection_id: str) -> dict[str, Any] | None:
    found = client("dynamodb", aws.endpoint).get_item(
        TableName=aws.tables["ConnectionsTable"], Key={"connection_id": {"S": connection_id}}
    )
    item: dict[str, Any] | None = found.get("Item")
    return item


def test_connect_is_accepted_and_recorded_with_its_principal(
    functions: Functions, aws: LoopbackAws, ws_event: Sample, connection_id: str
) -> None:
    assert call(functions, ws_event("connect"))["statusCode"] == 200
    item = connection_item(aws, connection_id)
    assert item is not None and item["principal"]["S"] == "user:user-123"
    assert "expires_at" in item


def test_message_is_answered_with_a_reply_frame(
    functions: Functions, aws: LoopbackAws, ws_event: Sample, connection_id: str
) -> None:
    assert call(functions, ws_event("connect"))["statusCode"] == 200
    before = len(aws.recorder.frames(connection_id))
    assert call(functions, ws_event("message"))["statusCode"] == 200
    frames = aws.recorder.frames(connection_id)[before:]
    assert [f["type"] for f in frames] == ["reply"], frames
    assert frames[0]["message_id"] == "ws-msg-0001"
    assert frames[0]["messages"] and frames[0]["messages"][0]["text"]


def test_invalid_message_is_answered_with_an_error_frame(
    functions: Functions, aws: LoopbackAws, ws_event: Sample, connection_id: str
) -> None:
    assert call(functions, ws_event("connect"))["statusCode"] == 200
    event = ws_event("message")
    event["body"] = json.dumps({"action": "message", "text": "hi", "role": "admin"})
    before = len(aws.recorder.frames(connection_id))
    assert call(functions, event)["statusCode"] == 200
    frames = aws.recorder.frames(connection_id)[before:]
    assert [(f["type"], f["error"]) for f in frames] == [("error", "invalid_input")]


def test_disconnect_forgets_the_connection(
    functions: Functions, aws: LoopbackAws, ws_event: Sample, connection_id: str
) -> None:
    assert call(functions, ws_event("connect"))["statusCode"] == 200
    assert call(functions, ws_event("disconnect"))["statusCode"] == 200
    assert connection_item(aws, connection_id) is None


def test_reply_to_a_gone_connection_deletes_its_record(
    functions: Functions, aws: LoopbackAws, ws_event: Sample, connection_id: str
) -> None:
    assert call(functions, ws_event("connect"))["statusCode"] == 200
    aws.recorder.gone.add(connection_id)  # the client went away: @connections answers 410 Gone
    try:
        assert call(functions, ws_event("message"))["statusCode"] == 200
    finally:
        aws.recorder.gone.discard(connection_id)
    assert connection_item(aws, connection_id) is None
