"""The built MQTT function in the emulator, invoked with the IoT rule's events: a reply is published on
clawline/<thing>/out (the loopback iot-data recorder); a payload that is not JSON gets an error reply and a
dead-letter record, and the invoke still succeeds (a retry would fail the same way).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.package.conftest import Functions, LoopbackAws, Sample, explain

pytestmark = pytest.mark.package
REPLY_TOPIC = "clawline/kitchen-speaker-1/out"


def call(functions: Functions, event: dict[str, Any]) -> dict[str, Any]:
    invocation = functions["MqttFunction"].invoke(event)
    assert not invocation.function_error, explain(invocation)
    payload: dict[str, Any] = invocation.payload
    return payload


def test_message_is_answered_on_the_things_reply_topic(functions: Functions, aws: LoopbackAws, sample: Sample) -> None:
    before = len(aws.recorder.published(REPLY_TOPIC))
    result = call(functions, sample("mqtt/message.json"))
    assert result == {"status": "replied", "message_id": "dev-msg-0001"}
    published = aws.recorder.published(REPLY_TOPIC)[before:]
    assert [p["type"] for p in published] == ["reply"]
    assert published[0]["message_id"] == "dev-msg-0001" and published[0]["messages"][0]["text"]


def test_payload_that_is_not_json_gets_an_error_reply_and_a_dead_letter(
    functions: Functions, aws: LoopbackAws, sample: Sample
) -> None:
    aws.dead_letters()  # start from an empty queue
    before = len(aws.recorder.published(REPLY_TOPIC))
    result = call(functions, sample("mqtt/not_json.json"))
    assert result["status"] == "rejected"
    published = aws.recorder.published(REPLY_TOPIC)[before:]
    assert [p["type"] for p in published] == ["error"]
    letters = aws.dead_letters()
    assert len(letters) == 1
    assert letters[0]["reason"] == "permanent_error"


@pytest.mark.parametrize("name", ["mqtt/missing_message_id.json", "mqtt/spoofed_identity.json"])
def test_refused_payloads_are_recorded_not_retried(
    functions: Functions, aws: LoopbackAws, sample: Sample, name: str
) -> None:
    aws.dead_letters()
    assert call(functions, sample(name))["status"] == "rejected"
    assert len(aws.dead_letters()) == 1
