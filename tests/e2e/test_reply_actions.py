"""Reply actions from outside: a real MQTT subscriber on ``clawline/#`` receives what the bot publishes, and the
HTTP client sees the action in the response (issue 15)."""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

import pytest

from local.runtime import Runtime
from tests.e2e.conftest import REPLY_TIMEOUT, Http, unique

pytestmark = pytest.mark.e2e


@pytest.fixture
def subscriber(runtime: Runtime) -> Any:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    got: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("watcher"))
    client.on_connect = lambda c, *_a: c.subscribe("clawline/#", qos=1)
    client.on_subscribe = lambda *_a: ready.set()
    client.on_message = lambda _c, _u, msg: got.put((msg.topic, json.loads(msg.payload)))
    client.connect(runtime.mqtt_host, runtime.mqtt_port)
    client.loop_start()
    assert ready.wait(REPLY_TIMEOUT)
    yield got
    client.disconnect()
    client.loop_stop()


def test_an_order_over_http_is_published_to_the_kitchen_topic(runtime: Runtime, subscriber: Any) -> None:
    http = Http(runtime, unique("alice"))
    conversation = unique("order")
    http.say("I would like to order a pizza", conversation)
    http.say("pepperoni", conversation)
    http.say("a big one please", conversation)
    done = http.say("221B Baker Street", conversation)
    assert [a["type"] for a in done["actions"]] == ["publish"]
    while True:
        topic, message = subscriber.get(timeout=REPLY_TIMEOUT)
        if topic == "clawline/kitchen/orders":
            break
    assert message["type"] == "publish" and message["message_id"] == done["message_id"]
    assert "large pepperoni" in message["text"] and "221B Baker Street" in message["text"]
