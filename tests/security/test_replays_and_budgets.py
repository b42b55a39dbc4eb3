"""Replays across reconnects and deletes, and time budgets (issue 16, items 12, 13 and 15).

- A retry of a message id without a conversation id gets the first reply (HTTP), and so does a WebSocket
  resend after reconnecting: the default conversation id is deterministic, so the replay finds its turn.
- Deleting a conversation deletes its replays too: a replay afterwards is a new message, never the old reply.
- AWS requests fit in the invocation: timeouts and retries come from the time left, and every 503 says when
  to come back (``Retry-After``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from clawline import composition
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context
from tests.security.conftest import invoke_http, invoke_ws, ws_connect, ws_message


def _post(body: dict[str, Any], sub: str = "user-123") -> dict[str, Any]:
    event = load_event("http/post_message.json")
    event["requestContext"]["authorizer"] = {"lambda": {"sub": sub, "scope": "chat"}}
    event["body"] = json.dumps(body)
    return event


def _delete(conversation_id: str) -> dict[str, Any]:
    event = load_event("http/delete_conversation.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/dev/v1/conversations/{conversation_id}"
    event["pathParameters"] = {"conversation_id": conversation_id}
    return event


def _turns(stack: Stack) -> list[dict[str, Any]]:
    items = stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"]
    return [i for i in items if i["sk"]["S"].startswith("T#")]


def test_http_retry_without_a_conversation_id_gets_the_first_reply(stack: Stack) -> None:
    first = invoke_http(_post({"text": "hello", "message_id": "no-conv-1"}))
    retry = invoke_http(_post({"text": "hello", "message_id": "no-conv-1"}))
    assert first[0] == retry[0] == 200
    assert first[1] == retry[1]
    assert len(_turns(stack)) == 1
    # Another user's message with the same id is another message in another conversation.
    other = invoke_http(_post({"text": "hello", "message_id": "no-conv-1"}, sub="someone-else"))
    assert other[0] == 200 and other[1] is not None and other[1]["conversation_id"] != first[1]["conversation_id"]


def test_websocket_resend_after_reconnecting_gets_the_first_reply(stack: Stack) -> None:
    invoke_ws(ws_connect("conn-before=", "alice"))
    invoke_ws(ws_message("conn-before=", {"text": "hello", "message_id": "resent-1"}))
    invoke_ws(ws_connect("conn-after=", "alice"))  # the client lost its socket before the reply, and reconnected
    invoke_ws(ws_message("conn-after=", {"text": "hello", "message_id": "resent-1"}))

    (before,) = stack.recorder.frames("conn-before=")
    (after,) = stack.recorder.frames("conn-after=")
    assert before["type"] == after["type"] == "reply"
    assert after == before
    assert len(_turns(stack)) == 1


def test_a_replay_after_delete_is_a_new_message_not_the_old_reply(stack: Stack) -> None:
    body = {"text": "hello", "conversation_id": "gone-1", "message_id": "del-1"}
    assert invoke_http(_post(body))[0] == 200
    assert invoke_http(_delete("gone-1"))[0] == 204
    assert _turns(stack) == []

    status, reply, _ = invoke_http(_post(body))
    assert status == 200 and reply is not None
    # Answered by running the turn again (the old reply went with the conversation): it is stored anew.
    assert [i["message_id"]["S"] for i in _turns(stack)] == ["del-1"]


def test_aws_timeouts_and_retries_fit_in_the_invocation(stack: Stack) -> None:
    composition.register_lambda_context(lambda_context("clawline-http", timeout_seconds=15.0))
    config = composition.dynamodb().meta.config
    attempts = config.retries["total_max_attempts"]
    assert attempts * (config.connect_timeout + config.read_timeout) <= 15.0


def test_no_aws_request_starts_without_time_to_finish_and_the_503_says_when_to_retry(stack: Stack) -> None:
    assert invoke_http(_post({"text": "warm", "message_id": "w-1"}))[0] == 200
    import http_app

    response = http_app.handler(_post({"text": "late", "message_id": "late-1"}), lambda_context(timeout_seconds=0.05))
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["error"] == "temporarily_unavailable"
    assert int(response["headers"]["retry-after"]) >= 1


def test_throttled_storage_answers_503_with_retry_after(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    def throttled(*_a: Any, **_k: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Query")

    monkeypatch.setattr(composition.dynamodb(), "query", throttled)
    status, body, headers = invoke_http(_post({"text": "hello", "message_id": "t-1"}))
    assert status == 503 and body is not None and body["error"] == "temporarily_unavailable"
    assert int(headers["retry-after"]) >= 1
