"""A device on MQTT asks for its status and switches its lamp through its Device Shadow (moto's server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from clawline import aws
from tests.unit.engine.helpers import make_engine, say

BOT = """
name: lamps
slots:
  power: {type: text, values: ["on", "off"], ask: ask_power}
plugins:
  - module: plugins.iot_shadow
    class: IotShadowPlugin
    config:
      thing_prefix: "lamp-"
      status_reply: "The lamp is {power} at {brightness}%."
      update_reply: "Turning it {power}."
rules:
  - {name: status, when: text.contains("status"), then: [{plugin: {name: iot_shadow, params: {op: get}}}]}
  - name: switch
    when: text.contains("turn")
    require: [power]
    then: [{plugin: {name: iot_shadow, params: {op: update, from_slots: {power: power}}}}, {clear_slot: power}]
responses:
  ask_power: ["On or off?"]
"""


@pytest.fixture
def lamp(moto: str) -> str:
    aws.client("iot").create_thing(thingName="lamp-42")
    aws.client("iot-data").update_thing_shadow(
        thingName="lamp-42", payload=json.dumps({"state": {"reported": {"power": "off", "brightness": 70}}}).encode()
    )
    return "lamp-42"


def shadow(thing: str) -> Any:
    return json.loads(aws.client("iot-data").get_thing_shadow(thingName=thing)["payload"].read())["state"]


def test_the_device_reads_its_reported_state(tmp_path, lamp):
    engine = make_engine(tmp_path / "bot", BOT)
    assert say(engine, "status?", channel="mqtt", sender=lamp).texts == ["The lamp is off at 70%."]


def test_the_device_command_writes_the_desired_state(tmp_path, lamp):
    engine = make_engine(tmp_path / "bot", BOT)
    assert say(engine, "turn it", channel="mqtt", sender=lamp).texts == ["On or off?"]
    assert say(engine, "on", channel="mqtt", sender=lamp).texts == ["Turning it on."]
    assert shadow(lamp)["desired"] == {"power": "on"}


def test_a_thing_outside_the_prefix_is_never_touched(tmp_path, lamp):
    aws.client("iot").create_thing(thingName="door-1")
    engine = make_engine(tmp_path / "bot", BOT)
    assert say(engine, "status", channel="mqtt", sender="door-1").texts == ["Which device do you mean?"]
