"""A multi-turn conversation on each protocol, and one conversation carried across all three, through the
local runtime with real clients (the same paths API Gateway and IoT Core would take)."""

from __future__ import annotations

import pytest

from local.runtime import Runtime
from tests.e2e.conftest import Device, Http, WsClient, texts, unique

pytestmark = pytest.mark.e2e

#: The default bot's order form: (what the user says, what the bot's answer starts with or contains).
ORDER = [
    ("hi", "Hi! I'm Slice"),
    ("I'd like to order a pizza", "Which pizza would you like?"),
    ("margherita", "What size"),
    ("large", "Where should we deliver it?"),
    ("12 High Street", "Your large margherita pizza is on its way to 12 High Street."),
]


def test_http_conversation_takes_an_order_over_five_turns(runtime: Runtime) -> None:
    http = Http(runtime, unique("http-user"))
    conversation = unique("conv")
    for user, expected in ORDER:
        reply = http.say(user, conversation)
        assert reply["conversation_id"] == conversation
        assert any(expected in t for t in texts(reply)), (user, reply)
    assert [t["user_text"] for t in http.history(conversation)] == [u for u, _ in ORDER]


def test_websocket_conversation_takes_an_order_over_five_turns(runtime: Runtime) -> None:
    ws = WsClient(runtime, runtime.token(unique("ws-user")))
    try:
        conversation_ids = set()
        for user, expected in ORDER:
            reply = ws.say(user)
            assert reply["type"] == "reply", reply
            assert any(expected in t for t in texts(reply)), (user, reply)
            conversation_ids.add(reply["conversation_id"])
        assert len(conversation_ids) == 1  # the user's current conversation unless the client names one
    finally:
        ws.close()


def test_mqtt_conversation_takes_an_order_over_five_turns(runtime: Runtime) -> None:
    device = Device(runtime, unique("oven"))
    conversation_ids: set[str] = set()
    try:
        for n, (user, expected) in enumerate(ORDER):
            reply = device.say(user, f"m-{n}")
            assert reply["type"] == "reply", reply
            conversation_ids.add(reply["conversation_id"])
            assert any(expected in t for t in texts(reply)), (user, reply)
        assert len(conversation_ids) == 1  # the device's current conversation (per_user: the thing is its owner)
    finally:
        device.close()


def test_a_user_named_like_a_device_does_not_continue_its_conversation(runtime: Runtime) -> None:
    # Principals of different kinds never share data: a token whose sub is the thing's name is another owner.
    # (A device joins a user's conversations only when an admin pairs them: tests/e2e/test_user_story.py.)
    thing = unique("kiosk")
    device = Device(runtime, thing)
    try:
        device_conversation = device.say("hi", unique("m"))["conversation_id"]
    finally:
        device.close()
    http = Http(runtime, thing)
    response = http.client.get(f"/v1/conversations/{device_conversation}/messages")
    assert response.status_code == 404
