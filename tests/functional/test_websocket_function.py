"""The WebSocket function invoked with the events API Gateway sends, replying through a loopback @connections API."""

from __future__ import annotations

import json
from typing import Any

import pytest

import websocket_handler
from clawline import composition
from clawline.errors import RetryableError
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context

CONNECTION = "Cq4Z9dC4oAMCJdA="


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = websocket_handler.handler(event, lambda_context("clawline-websocket"))
    return result


def message(body: str | dict[str, Any], connection_id: str = CONNECTION) -> dict[str, Any]:
    event = load_event("websocket/message.json")
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    event["requestContext"]["connectionId"] = connection_id
    return event


def connect(stack: Stack, connection_id: str = CONNECTION, sub: str = "user-123") -> None:
    event = load_event("websocket/connect.json")
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["authorizer"].update({"principalId": sub, "sub": sub})
    assert invoke(event) == {"statusCode": 200}


def test_connect_stores_the_authorized_principal_with_a_ttl(stack: Stack) -> None:
    connect(stack)
    item = stack.dynamodb().get_item(
        TableName=stack.tables["ConnectionsTable"], Key={"connection_id": {"S": CONNECTION}}
    )["Item"]
    assert item["principal"]["S"] == "user:user-123"
    assert int(item["expires_at"]["N"]) - int(item["connected_at"]["N"]) > 7200


def test_message_sample_event_gets_a_reply_frame(stack: Stack) -> None:
    connect(stack)
    assert invoke(load_event("websocket/message.json")) == {"statusCode": 200}
    frames = stack.recorder.frames(CONNECTION)
    assert len(frames) == 1
    assert frames[0]["type"] == "reply"
    assert frames[0]["message_id"] == "ws-msg-0001"
    assert frames[0]["conversation_id"] == "conv-ws-1"
    assert frames[0]["messages"][0]["text"]


def test_a_conversation_continues_across_frames(stack: Stack) -> None:
    connect(stack)
    for i in range(3):
        invoke(message({"text": f"hello {i}", "conversation_id": "multi", "message_id": f"w-{i}"}))
    frames = stack.recorder.frames(CONNECTION)
    assert [f["message_id"] for f in frames] == ["w-0", "w-1", "w-2"]
    # One item per turn, numbered in order; the newest (T#3) carries the conversation's state.
    items = stack.dynamodb().query(
        TableName=stack.tables["StateTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "C#user:user-123#multi"}},
    )["Items"]
    assert [i["sk"]["S"] for i in items] == [f"T#{n:012d}" for n in (1, 2, 3)]
    assert [i["message_id"]["S"] for i in items] == ["w-0", "w-1", "w-2"]


def test_message_from_an_unknown_connection_gets_an_error_frame_and_no_turn(stack: Stack) -> None:
    invoke(message({"text": "hello", "message_id": "x-1"}, connection_id="never-connected="))
    frames = stack.recorder.frames("never-connected=")
    assert frames == [
        {
            "type": "error",
            "message_id": None,
            "error": "forbidden",
            "message": "unknown connection: reconnect to authenticate",
        }
    ]
    assert stack.count_items("StateTable") == 0


def test_bad_frames_get_error_frames_and_lose_nothing(stack: Stack) -> None:
    connect(stack)
    invoke(message({"text": "hello", "conversation_id": "keep", "message_id": "k-1"}))
    before = stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"]
    bad = [
        ('{"text": "unterminated', "invalid_input"),
        (json.dumps({"text": "hi", "role": "admin"}), "invalid_input"),
        (json.dumps({"conversation_id": "keep"}), "invalid_input"),
        (json.dumps({"text": "z" * (16 * 1024 + 1), "conversation_id": "keep"}), "payload_too_large"),
        ("[]", "invalid_input"),
    ]
    for body, _code in bad:
        invoke(message(body))
    frames = stack.recorder.frames(CONNECTION)
    assert [f["error"] for f in frames[1:]] == [code for _b, code in bad]
    assert all(f["type"] == "error" and f["message"] for f in frames[1:])
    after = stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"]
    assert sorted(map(str, after)) == sorted(map(str, before))


def test_gone_connection_is_forgotten(stack: Stack) -> None:
    connect(stack)
    stack.recorder.gone.add(CONNECTION)
    invoke(message({"text": "hello", "message_id": "g-1"}))
    assert "Item" not in stack.dynamodb().get_item(
        TableName=stack.tables["ConnectionsTable"], Key={"connection_id": {"S": CONNECTION}}
    )


def test_disconnect_deletes_the_connection_record(stack: Stack) -> None:
    connect(stack)
    assert invoke(load_event("websocket/disconnect.json")) == {"statusCode": 200}
    assert stack.count_items("ConnectionsTable") == 0


def test_identity_in_the_body_is_ignored(stack: Stack) -> None:
    connect(stack, sub="alice")
    invoke(message({"text": "hello", "conversation_id": "mine", "message_id": "i-1"}))
    invoke(message('{"text": "hello", "conversation_id": "mine", "sender": "bob"}'))
    frames = stack.recorder.frames(CONNECTION)
    assert frames[1]["type"] == "error"
    keys = {i["pk"]["S"] for i in stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"]}
    assert keys == {"C#user:alice#mine", "U#user:alice"}


def test_connect_while_the_store_is_throttled_is_refused_with_503_and_stores_nothing(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    def throttled(*_args: Any, **_kwargs: Any) -> Any:
        raise RetryableError("storage is busy, try again")

    monkeypatch.setattr(composition.connection_store(), "add", throttled)
    event = load_event("websocket/connect.json")
    event["requestContext"]["connectionId"] = CONNECTION
    assert invoke(event) == {"statusCode": 503}
    monkeypatch.undo()
    got = stack.dynamodb().get_item(
        TableName=stack.tables["ConnectionsTable"], Key={"connection_id": {"S": CONNECTION}}
    )
    assert "Item" not in got
    connect(stack)  # the client's retry connects
