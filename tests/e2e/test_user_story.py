"""Issue 15's story: one user, one conversation across HTTP, WebSocket and MQTT without ever naming it, and a
profile slot remembered in a second conversation. Through the local runtime with real clients (httpx, websockets,
paho-mqtt); the device joins the user's conversation only because an admin paired it (issue 16 item 7).
"""

from __future__ import annotations

import httpx
import pytest

from local.runtime import Runtime
from tests.e2e.conftest import REPLY_TIMEOUT, Device, WsClient, texts, unique

pytestmark = pytest.mark.e2e


def test_a_user_continues_one_conversation_on_every_channel_and_the_bot_remembers_their_name(
    runtime: Runtime,
) -> None:
    user, thing = unique("ada"), unique("ada-speaker")
    admin = httpx.Client(
        base_url=runtime.http_url,
        timeout=REPLY_TIMEOUT,
        headers={"Authorization": f"Bearer {runtime.token(unique('ops'), scope='chat clawline/admin')}"},
    )
    token = runtime.token(user)
    http = httpx.Client(base_url=runtime.http_url, timeout=REPLY_TIMEOUT, headers={"Authorization": f"Bearer {token}"})

    # An admin pairs the user's device; a user without the admin scope cannot.
    assert http.put(f"/v1/admin/devices/{thing}/pairing", json={"user": user}).status_code == 403
    assert admin.put(f"/v1/admin/devices/{thing}/pairing", json={"user": user}).status_code == 204
    assert admin.get(f"/v1/admin/devices/{thing}/pairing").json() == {"thing": thing, "user": user}

    def say(text: str) -> dict[str, object]:
        response = http.post("/v1/messages", json={"text": text})
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    # HTTP, no conversation id: the user's first conversation starts.
    first = say("who am I?")
    conversation = first["conversation_id"]
    assert texts(first) == ["You are someone I have not met yet."]

    # WebSocket, no conversation id: the same conversation; the bot asks for the name it will keep.
    ws = WsClient(runtime, token)
    device = Device(runtime, thing)
    try:
        asked = ws.say("remember my name")
        assert (asked["type"], asked["conversation_id"], texts(asked)) == (
            "reply",
            conversation,
            ["What should I call you?"],
        )
        # MQTT, no conversation id, from the paired device: the answer to the WebSocket question (the bot sees the
        # earlier turns: it is in the middle of the form they started).
        answered = device.say("Ada", unique("m"))
        assert answered["conversation_id"] == conversation
        assert texts(answered) == ["Nice to meet you, Ada. I'll remember that."]
    finally:
        ws.close()
        device.close()
    history = http.get(f"/v1/conversations/{conversation}/messages", params={"limit": 10}).json()["messages"]
    assert [(t["channel"], t["user_text"]) for t in reversed(history)] == [
        ("http", "who am I?"),
        ("websocket", "remember my name"),
        ("mqtt", "Ada"),
    ]

    # A second conversation, named by the client: it starts with the user's profile.
    second = http.post("/v1/messages", json={"text": "who am I?", "conversation_id": unique("second")}).json()
    assert second["conversation_id"] != conversation
    assert texts(second) == ["You are Ada."]
    # ... and it is now the user's current one: a message without an id continues it.
    assert say("who am I?")["conversation_id"] == second["conversation_id"]

    # Unpaired, the device talks as itself again (its container notices within the pairing cache's minute; this
    # runtime's MQTT function has seen the pairing, so only the route's answer is checked here).
    assert admin.delete(f"/v1/admin/devices/{thing}/pairing").status_code == 204
    assert admin.get(f"/v1/admin/devices/{thing}/pairing").status_code == 404
