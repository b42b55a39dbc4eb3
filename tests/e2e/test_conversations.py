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
        assert len(conversation_ids) == 1  # one conversation per connection unless the client names one
    finally:
        ws.close()


def test_mqtt_conversation_takes_an_order_over_five_turns(runtime: Runtime) -> None:
    device = Device(runtime, unique("oven"))
    try:
        for n, (user, expected) in enumerate(ORDER):
            reply = device.say(user, f"m-{n}")
            assert reply["type"] == "reply", reply
            assert reply["conversation_id"] == device.thing  # a device's conversation is named after it
            assert any(expected in t for t in texts(reply)), (user, reply)
    finally:
        device.close()


def test_one_conversation_continues_across_http_websocket_and_mqtt(runtime: Runtime) -> None:
    # The conversation store keys conversations by owner: a user whose token subject is the thing's name
    # continues the device's conversation from HTTP and WebSocket.
    thing = unique("kiosk")
    http = Http(runtime, thing)
    ws = WsClient(runtime, http.token)
    device = Device(runtime, thing)
    try:
        (u0, e0), (u1, e1), (u2, e2), (u3, e3), (u4, e4) = ORDER
        assert any(e0 in t for t in texts(http.say(u0, thing)))
        assert any(e1 in t for t in texts(http.say(u1, thing)))
        assert any(e2 in t for t in texts(ws.say(u2, conversation_id=thing)))
        assert any(e3 in t for t in texts(ws.say(u3, conversation_id=thing)))
        assert any(e4 in t for t in texts(device.say(u4, unique("m"))))
        turns = http.history(thing)
        assert [(t["channel"], t["user_text"]) for t in turns] == [
            ("http", u0),
            ("http", u1),
            ("websocket", u2),
            ("websocket", u3),
            ("mqtt", u4),
        ]
    finally:
        ws.close()
        device.close()
