"""MQTT as IoT Core serves it: the topic rule's SQL on every publish, an asynchronous invoke with Lambda's
retries and OnFailure destination, replies through the iot-data publish API, and redelivery made harmless
by the message id."""

from __future__ import annotations

import base64
import json

import pytest

from local.runtime import Runtime
from local.template import create_tables
from tests.e2e.conftest import Device, RuntimeLog, aws, drain_dead_letters, unique, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def device(runtime: Runtime) -> object:
    d = Device(runtime, unique("dev"))
    drain_dead_letters(runtime)
    yield d
    d.close()


def dead_letters_for(runtime: Runtime, thing: str, count: int) -> list[dict[str, object]]:
    found: list[dict[str, object]] = []

    def enough() -> bool:
        for record in drain_dead_letters(runtime):
            event = record.get("event") or record.get("requestPayload") or {}
            if isinstance(event, dict) and event.get("thing") == thing:
                found.append(record)
        return len(found) >= count

    wait_for(enough, what=f"{count} dead-letter record(s) for {thing}")
    return found


def test_rule_event_carries_the_raw_payload_topic_identity_client_id_and_timestamp(
    runtime: Runtime, device: Device
) -> None:
    # A payload that is not JSON reaches the function (encode(*, 'base64')), so its dead-letter record shows
    # exactly what the rule produced.
    device.publish(b"\x00not json")
    (record,) = dead_letters_for(runtime, device.thing, 1)
    event = record["event"]
    assert isinstance(event, dict)
    assert base64.b64decode(event["payload"]) == b"\x00not json"
    assert event["thing"] == device.thing
    assert event["client_id"] == device.thing  # clientid(): the publishing MQTT client
    assert isinstance(event["received_at"], int) and event["received_at"] > 1_700_000_000_000


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"not json at all", "invalid_input"),
        (json.dumps({"text": "hi"}).encode(), "invalid_input"),  # no message_id: redelivery would be unsafe
        (json.dumps({"text": "hi", "message_id": "u-1", "colour": "red"}).encode(), "invalid_input"),
        (json.dumps({"text": "hi", "message_id": "u-2", "thing": "someone-else"}).encode(), "invalid_input"),
        (json.dumps({"text": "x" * (16 * 1024 + 1), "message_id": "u-3"}).encode(), "payload_too_large"),
    ],
    ids=["not-json", "missing-message-id", "unknown-field", "claims-identity", "text-over-16kb"],
)
def test_unprocessable_payload_gets_an_error_reply_and_one_dead_letter_record(
    runtime: Runtime, device: Device, payload: bytes, code: str
) -> None:
    device.publish(payload)
    reply = device.recv()
    assert reply["type"] == "error" and reply["error"] == code, reply
    (record,) = dead_letters_for(runtime, device.thing, 1)
    assert record["reason"] == "permanent_error" and record["error"] == code


def test_redelivered_message_id_is_processed_once(runtime: Runtime, runtime_log: RuntimeLog, device: Device) -> None:
    first = device.say("hi", "once-1")
    device.publish({"text": "hi", "message_id": "once-1"})  # IoT delivers at least once: the same message again
    wait_for(
        lambda: runtime_log.count(f"MQTT {device.thing} -> MqttFunction attempt 1") == 2,
        what="the function to see the redelivered message",
    )
    turns = aws(runtime, "dynamodb").query(
        TableName=runtime.tables["StateTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"C#thing:{device.thing}#{first['conversation_id']}"}},
    )["Items"]
    assert [t["message_id"]["S"] for t in turns] == ["once-1"]
    # Whatever the device hears about it is the first answer again, never a second turn's.
    while not device.replies.empty():
        assert device.replies.get_nowait() == first


def test_function_error_is_retried_twice_then_sent_to_the_on_failure_queue(runtime: Runtime, device: Device) -> None:
    # Without its state table the function fails on every attempt, as on a DynamoDB outage.
    dynamodb = aws(runtime, "dynamodb")
    table = runtime.tables["StateTable"]
    dynamodb.delete_table(TableName=table)
    try:
        device.publish({"text": "hi", "message_id": "retry-1"})
        (record,) = dead_letters_for(runtime, device.thing, 1)
    finally:
        template = runtime.template
        create_tables(
            dynamodb,
            type(template)(
                {**template.data, "Resources": {"StateTable": template.resources["StateTable"]}}, template.parameters
            ),
        )
    context = record["requestContext"]
    assert isinstance(context, dict)
    assert context["condition"] == "RetriesExhausted"
    assert context["approximateInvokeCount"] == 3  # the first attempt and Lambda's two retries
    assert context["functionArn"].endswith("clawline-mqtt-dev:$LATEST")
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert device.replies.empty()
    # Once the table is back the same message is answered.
    assert device.say("hi", "retry-2")["type"] == "reply"


def test_replies_come_back_in_order_when_messages_are_pipelined(device: Device) -> None:
    ids = [f"q-{n}" for n in range(6)]
    for message_id in ids:
        device.publish({"text": "hi", "message_id": message_id})
    assert [device.recv()["message_id"] for _ in ids] == ids


def test_device_ping_is_answered_by_the_mqtt_only_rule(device: Device) -> None:
    reply = device.say("ping", "ping-1")
    assert [m["text"] for m in reply["messages"]] == ["pong"]
