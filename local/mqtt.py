"""MQTT for the local runtime: the embedded broker (amqtt), the iot-data publisher and the IoT rule emulator.

The rule emulator needs the publisher's client id for ``clientid()``. An MQTT subscriber never learns it, so
with the embedded broker the rules are fed by a broker plugin (:class:`RuleTap`) that sees every PUBLISH
with its client id; with an external broker (``--mqtt-url``) they are fed by a subscription and
``clientid()`` is ``"n/a"``, which is what IoT Core returns for a message that did not come over MQTT.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from amqtt.plugins.base import BasePlugin

from local.functions import AsyncInvoker
from local.iotsql import Message, Rule
from local.template import TopicRuleSpec

Tap = Callable[[str, bytes, str], None]  # (topic, payload, client id)
_TAPS: dict[str, Tap] = {}


class RuleTap(BasePlugin[Any]):  # type: ignore[misc]  # amqtt ships no type information
    """amqtt broker plugin: hands every published message, with its client id, to a registered tap."""

    @dataclass
    class Config:
        tap: str = ""

    async def on_broker_message_received(self, *, client_id: str, message: Any) -> None:
        tap = _TAPS.get(self.config.tap)
        if tap is not None and message is not None and message.topic:
            tap(str(message.topic), bytes(message.data or b""), client_id)


class EmbeddedBroker:
    def __init__(self, host: str, port: int, tap: Tap) -> None:
        self.host, self.port = host, port
        self._key = uuid.uuid4().hex
        _TAPS[self._key] = tap
        self._broker: Any = None

    async def start(self) -> None:
        from amqtt.broker import Broker

        # amqtt logs every connection at INFO; the runtime prints its own line per turn instead.
        logging.getLogger("amqtt").setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
                f"{__name__}.RuleTap": {"tap": self._key},
            },
        }
        self._broker = Broker(config)
        await self._broker.start()

    async def stop(self) -> None:
        try:
            if self._broker is not None:
                await self._broker.shutdown()
        finally:
            _TAPS.pop(self._key, None)


def parse_broker_url(url: str) -> tuple[str, int]:
    parsed = urllib.parse.urlsplit(url if "://" in url else f"mqtt://{url}")
    if parsed.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"unsupported broker URL {url!r}: use mqtt://HOST:PORT")
    return parsed.hostname or "127.0.0.1", parsed.port or 1883


class PahoClient:
    """A paho client on its own network thread, connected before ``start`` returns."""

    def __init__(self, host: str, port: int, client_id: str) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.host, self.port = host, port
        self._connected = threading.Event()
        # max_inflight/max_queued: replies to hundreds of devices go out in bursts; paho's default of 20
        # in-flight QoS 1 messages would only add latency on loopback.
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
        self.client.max_inflight_messages_set(1000)
        self.client.on_connect = lambda *_a: self._connected.set()

    def start(self, timeout: float = 10.0) -> None:
        self.client.connect(self.host, self.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(timeout):
            self.stop()
            raise ConnectionError(f"MQTT broker {self.host}:{self.port} did not accept a connection")

    def stop(self) -> None:
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()


class Publisher(PahoClient):
    """What the iot-data publish API hands messages to."""

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        # paho keeps the order of publish() calls; the API answers once the message is queued.
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != 0:
            raise ConnectionError(f"MQTT publish to {topic} failed (rc {info.rc})")


class RuleSubscriber(PahoClient):
    """Feeds the rules from an external broker (no client ids there)."""

    def __init__(self, host: str, port: int, filters: list[str], tap: Tap) -> None:
        super().__init__(host, port, f"clawline-iot-rules-{uuid.uuid4().hex[:6]}")
        self.client.on_connect = self._subscribe
        self.client.on_message = lambda _c, _u, msg: tap(msg.topic, bytes(msg.payload), "n/a")
        self._filters = filters

    def _subscribe(self, client: Any, *_args: Any) -> None:
        for topic_filter in self._filters:
            client.subscribe(topic_filter, qos=1)
        self._connected.set()


#: IoT Core's message size limit (publish payload).
IOT_MAX_PAYLOAD_BYTES = 128 * 1024


class RuleEngine:
    """Evaluates each rule's SQL on every message and sends the result to the rule's Lambda action."""

    def __init__(
        self,
        rules: list[tuple[TopicRuleSpec, Rule]],
        invokers: dict[str, AsyncInvoker],
        log: Callable[[str], None] = print,
    ) -> None:
        self.rules = rules
        self.invokers = invokers
        self.log = log

    def on_message(self, topic: str, payload: bytes, client_id: str) -> None:
        if len(payload) > IOT_MAX_PAYLOAD_BYTES:
            # IoT Core refuses a publish over 128 KB (and disconnects the client); no rule ever sees it.
            self.log(f"MQTT {topic}: {len(payload)} bytes refused, over IoT Core's {IOT_MAX_PAYLOAD_BYTES} bytes")
            return
        for spec, rule in self.rules:
            try:
                out = rule.evaluate(Message(topic, payload, client_id, int(time.time() * 1000)))
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the rule
                self.log(f"MQTT rule {spec.name}: evaluation failed on {topic}: {exc}")
                continue
            if out is not None:
                self.invokers[spec.function].submit(out)
