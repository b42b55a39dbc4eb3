"""The local runtime started once for the e2e session on free loopback ports, and real clients to drive it:
httpx for the HTTP API, ``websockets`` for the WebSocket API, paho-mqtt for devices.

Every wait is a readiness check or a bounded poll, never a fixed sleep, so the suite holds on a busy
2-core machine.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from local.runtime import Options, Runtime, RuntimeThread

pytestmark = pytest.mark.e2e

#: Generous bounds for one reply: the first turn of a function includes its cold start (engine, NLU).
REPLY_TIMEOUT = 20.0


def e2e_options(**overrides: Any) -> Options:
    # Short retry delays keep the retry path testable; everything else is the default `make run` serves.
    options = Options(
        port=0, mqtt_port=0, moto_port=0, retry_delays=(0.2, 0.4), metrics=False, function_log_level="WARNING"
    )
    for key, value in overrides.items():
        setattr(options, key, value)
    return options


class RuntimeLog:
    """The runtime's own lines (one per turn, plus @connections 410s), for tests that check what it did."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)

    def count(self, *parts: str) -> int:
        with self._lock:
            return sum(all(p in line for p in parts) for line in self.lines)

    def has(self, *parts: str) -> bool:
        return self.count(*parts) > 0


@pytest.fixture(scope="session")
def runtime_log() -> RuntimeLog:
    return RuntimeLog()


@pytest.fixture(scope="session")
def runtime(runtime_log: RuntimeLog) -> Iterator[Runtime]:
    with RuntimeThread(e2e_options(), log=runtime_log) as rt:
        yield rt


def wait_for(predicate: Callable[[], Any], timeout: float = REPLY_TIMEOUT, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Http:
    def __init__(self, runtime: Runtime, sub: str) -> None:
        self.runtime = runtime
        self.token = runtime.token(sub)
        self.client = httpx.Client(
            base_url=runtime.http_url, timeout=REPLY_TIMEOUT, headers={"Authorization": f"Bearer {self.token}"}
        )

    def say(self, text: str, conversation_id: str, **extra: Any) -> dict[str, Any]:
        response = self.client.post("/v1/messages", json={"text": text, "conversation_id": conversation_id, **extra})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def history(self, conversation_id: str) -> list[dict[str, Any]]:
        response = self.client.get(f"/v1/conversations/{conversation_id}/messages", params={"limit": 100})
        assert response.status_code == 200, response.text
        turns: list[dict[str, Any]] = response.json()["messages"]
        return sorted(turns, key=lambda t: t["seq"])


class WsClient:
    def __init__(self, runtime: Runtime, token: str) -> None:
        self.connection: ClientConnection = connect(f"{runtime.ws_url}?token={token}", open_timeout=REPLY_TIMEOUT)

    def send(self, frame: dict[str, Any] | str) -> None:
        self.connection.send(frame if isinstance(frame, str) else json.dumps(frame))

    def recv(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.connection.recv(timeout=REPLY_TIMEOUT))
        return data

    def say(self, text: str, **extra: Any) -> dict[str, Any]:
        self.send({"text": text, **extra})
        return self.recv()

    def close(self) -> None:
        self.connection.close()


class Device:
    """A paho-mqtt device: its own client id (the thing name), subscribed to its out topic before it talks."""

    def __init__(self, runtime: Runtime, thing: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.thing = thing
        self.replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=thing)
        self.client.on_connect = lambda c, *_a: c.subscribe(f"clawline/{thing}/out", qos=1)
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.on_message = lambda _c, _u, msg: self.replies.put(json.loads(msg.payload))
        self.client.connect(runtime.mqtt_host, runtime.mqtt_port)
        self.client.loop_start()
        assert self._subscribed.wait(REPLY_TIMEOUT), f"{thing} could not subscribe"

    def publish(self, payload: dict[str, Any] | bytes) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        info = self.client.publish(f"clawline/{self.thing}/in", data, qos=1)
        info.wait_for_publish(REPLY_TIMEOUT)

    def recv(self) -> dict[str, Any]:
        return self.replies.get(timeout=REPLY_TIMEOUT)

    def say(self, text: str, message_id: str, **extra: Any) -> dict[str, Any]:
        self.publish({"text": text, "message_id": message_id, **extra})
        reply = self.recv()
        assert reply.get("message_id") == message_id, reply
        return reply

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def aws(runtime: Runtime, service: str) -> Any:
    # A new session: boto3's default one keeps the credentials of the environment it was first made in.
    return boto3.session.Session().client(service, endpoint_url=runtime.moto_url, region_name="us-east-1")


def drain_dead_letters(runtime: Runtime) -> list[dict[str, Any]]:
    sqs = aws(runtime, "sqs")
    out: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(QueueUrl=runtime.dead_letter_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
        if not messages:
            return out
        for message in messages:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=runtime.dead_letter_queue_url, ReceiptHandle=message["ReceiptHandle"])


def texts(reply: dict[str, Any]) -> list[str]:
    """The bot's texts in an HTTP body (``replies``) or a WebSocket/MQTT frame (``messages``)."""
    return [m["text"] for m in reply.get("replies", reply.get("messages", []))]


def assert_answers_every_protocol(rt: Runtime, prefix: str) -> None:
    """One greeting each over HTTP, WebSocket and MQTT gets the bot's reply."""
    sub = unique(prefix)
    assert any("Slice" in t for t in texts(Http(rt, sub).say("hi", unique("c"))))
    ws = WsClient(rt, rt.token(sub))
    try:
        assert ws.say("hi")["type"] == "reply"
    finally:
        ws.close()
    device = Device(rt, unique(f"{prefix}-dev"))
    try:
        assert device.say("hi", f"{prefix}-1")["type"] == "reply"
    finally:
        device.close()
