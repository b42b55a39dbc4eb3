"""Issue 16 item 7: users and devices are principals of different kinds and never share a namespace.

A JWT whose ``sub`` equals a thing's name is another principal than that thing: it reads none of the device's
conversations and spends none of its rate-limit tokens. Driven through the real handlers (moto's server).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.security.conftest import invoke_http, invoke_mqtt, mqtt_event

THING = "kitchen-1"


def as_user(sub: str, event: dict[str, Any]) -> dict[str, Any]:
    event["requestContext"]["authorizer"] = {"lambda": {"sub": sub, "scope": "chat"}}
    return event


def history(sub: str, conversation_id: str) -> tuple[int, dict[str, Any] | None]:
    event = as_user(sub, load_event("http/get_messages.json"))
    path = f"/dev/v1/conversations/{conversation_id}/messages"
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["rawQueryString"] = ""
    event["pathParameters"] = {"conversation_id": conversation_id}
    status, body, _ = invoke_http(event)
    return status, body


def post(sub: str, text: str, **fields: Any) -> int:
    event = as_user(sub, load_event("http/post_message.json"))
    event["body"] = json.dumps({"text": text, **fields})
    status, _body, _ = invoke_http(event)
    return status


def test_a_token_named_like_a_thing_cannot_read_the_device_conversation(stack: Stack) -> None:
    assert (
        invoke_mqtt(mqtt_event({"text": "the door code is 4711", "message_id": "d-1"}, thing=THING))["status"]
        == "replied"
    )
    # The device's conversation is named after the thing (per_connection) or is its current one (per_user):
    # whichever it is, a user whose sub is the thing's name finds nothing of it.
    items = stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"]
    device_conversations = {i["pk"]["S"].rsplit("#", 1)[1] for i in items if i["sk"]["S"].startswith("T#0")}
    assert device_conversations
    for conversation_id in device_conversations:
        status, body = history(THING, conversation_id)
        assert status == 404, body


def test_a_token_named_like_a_thing_does_not_share_its_rate_limit_bucket(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clawline import composition

    monkeypatch.setenv("CLAWLINE_RATE_LIMIT_CAPACITY", "2")
    monkeypatch.setenv("CLAWLINE_RATE_LIMIT_PER_SECOND", "0.001")
    composition.reset()
    for i in range(3):
        invoke_mqtt(mqtt_event({"text": f"hi {i}", "message_id": f"d-{i}"}, thing=THING))
    # The device has spent its burst; its third message was dropped.
    assert invoke_mqtt(mqtt_event({"text": "again", "message_id": "d-9"}, thing=THING))["status"] == "dropped"
    # A user who happens to be called like the device still has a full bucket of their own.
    assert post(THING, "hello", conversation_id="mine", message_id="u-1") == 200
