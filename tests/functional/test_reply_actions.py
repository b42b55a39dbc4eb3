"""Reply actions carried out on every channel: each action kind is executed (MQTT publish through iot-data) or
delivered to the client in the reply (HTTP body, WebSocket frame, MQTT reply document), never dropped.

The handlers run against moto's server for state and a loopback recorder for iot-data/@connections.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import http_app
import mqtt_handler
import websocket_handler
from clawline import composition
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context

BOT = """
name: actions
settings:
  mode: rules
  publish_topics: ["devices/{thing}/cmd"]
responses:
  fallback: ["?"]
  ok: ["ok"]
  handoff: ["A person will take over."]
rules:
  - name: lights
    when: text == "lights on"
    then:
      - reply: ok
      - publish: {channel: mqtt, topic: "devices/{sender}/cmd", text: "lights on for {sender}", payload: {lights: true}}
  - name: notify
    when: text == "notify"
    then: [{reply: ok}, {publish: {channel: websocket, to: support-team, text: "ping from {sender}"}}]
  - name: human
    when: text == "human"
    then: [{handoff: {queue: support, response: handoff, note: "{sender} asked"}}]
  - name: block
    when: text == "block"
    then: [{reject: "not here"}]
"""
SENDER = {"http": "user-123", "websocket": "user-ws", "mqtt": "lamp-1"}
CONNECTION = "Conn4ctions="


@pytest.fixture
def bot(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    (tmp_path / "bot.yaml").write_text(BOT)
    monkeypatch.setenv("CLAWLINE_BOT_PATH", str(tmp_path))
    composition.reset()
    mqtt_handler.dead_letters.cache_clear()
    connect = load_event("websocket/connect.json")
    connect["requestContext"]["connectionId"] = CONNECTION
    connect["requestContext"]["authorizer"].update({"principalId": SENDER["websocket"], "sub": SENDER["websocket"]})
    websocket_handler.handler(connect, lambda_context("clawline-websocket"))
    return stack


def over_http(stack: Stack, text: str, message_id: str) -> dict[str, Any]:
    event = load_event("http/post_message.json")
    event["body"] = json.dumps({"text": text, "message_id": message_id, "conversation_id": "c-actions"})
    response = http_app.handler(event, lambda_context("clawline-http"))
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = json.loads(response["body"])
    return body


def over_websocket(stack: Stack, text: str, message_id: str) -> dict[str, Any]:
    event = load_event("websocket/message.json")
    event["body"] = json.dumps({"text": text, "message_id": message_id, "conversation_id": "c-actions"})
    event["requestContext"]["connectionId"] = CONNECTION
    websocket_handler.handler(event, lambda_context("clawline-websocket"))
    frames = [f for f in stack.recorder.frames(CONNECTION) if f.get("message_id") == message_id]
    assert frames and frames[-1]["type"] == "reply", frames
    return frames[-1]


def over_mqtt(stack: Stack, text: str, message_id: str) -> dict[str, Any]:
    thing = SENDER["mqtt"]
    event = load_event("mqtt/message.json")
    raw = json.dumps({"text": text, "message_id": message_id, "conversation_id": "c-actions"}).encode()
    event.update({"payload": base64.b64encode(raw).decode(), "thing": thing, "client_id": thing})
    assert mqtt_handler.handler(event, lambda_context("clawline-mqtt"))["status"] == "replied"
    replies = [r for r in stack.recorder.published(f"clawline/{thing}/out") if r.get("message_id") == message_id]
    assert len(replies) == 1
    return replies[0]


CHANNELS: dict[str, Callable[[Stack, str, str], dict[str, Any]]] = {
    "http": over_http,
    "websocket": over_websocket,
    "mqtt": over_mqtt,
}


@pytest.mark.parametrize("channel", CHANNELS)
def test_publish_to_mqtt_is_sent_to_the_declared_topic_once(bot: Stack, channel: str) -> None:
    send = CHANNELS[channel]
    reply = send(bot, "lights on", "m-1")
    topic = f"devices/{SENDER[channel]}/cmd"
    (published,) = bot.recorder.published(topic)
    assert published["type"] == "publish"
    assert published["text"] == f"lights on for {SENDER[channel]}"
    assert published["payload"] == {"lights": True}
    assert published["message_id"] == "m-1" and published["conversation_id"] == reply["conversation_id"]
    # The client sees the action too, and a replay of the message id publishes nothing more.
    assert [a["type"] for a in reply["actions"]] == ["publish"]
    if channel != "mqtt":  # (MQTT redelivery is answered silently; HTTP/WS clients get the first reply again)
        send(bot, "lights on", "m-1")
    else:
        over_mqtt_replay(bot, "m-1")
    assert len(bot.recorder.published(topic)) == 1


def over_mqtt_replay(stack: Stack, message_id: str) -> None:
    event = load_event("mqtt/message.json")
    raw = json.dumps({"text": "lights on", "message_id": message_id, "conversation_id": "c-actions"}).encode()
    thing = SENDER["mqtt"]
    event.update({"payload": base64.b64encode(raw).decode(), "thing": thing, "client_id": thing})
    assert mqtt_handler.handler(event, lambda_context("clawline-mqtt"))["status"] == "replied"


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(
    ("text", "kind", "params"),
    [
        ("human", "handoff", {"queue": "support", "note": "{sender} asked"}),
        ("block", "reject", {"reason": "not here"}),
        ("notify", "publish", {"channel": "websocket", "to": "support-team", "text": "ping from {sender}"}),
    ],
)
def test_every_other_action_reaches_the_client(
    bot: Stack, channel: str, text: str, kind: str, params: dict[str, str]
) -> None:
    reply = CHANNELS[channel](bot, text, "m-2")
    expected = {k: v.replace("{sender}", SENDER[channel]) for k, v in params.items()}
    assert reply["actions"] == [{"type": kind, "params": expected}]
    # Nothing went out to any topic but the device's own reply topic.
    assert all(t.startswith("clawline/") for t, _ in bot.recorder.publishes)
