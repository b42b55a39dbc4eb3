"""The MQTT function invoked with the event the IoT topic rule produces; replies land on the device's out topic."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import mqtt_handler
from clawline.errors import RetryableError
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context

THING = "kitchen-speaker-1"
OUT = f"clawline/{THING}/out"


@pytest.fixture(autouse=True)
def fresh_handler_caches() -> None:
    mqtt_handler.dead_letters.cache_clear()


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = mqtt_handler.handler(event, lambda_context("clawline-mqtt"))
    return result


def device_message(payload: bytes | dict[str, Any], thing: str = THING) -> dict[str, Any]:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    event = load_event("mqtt/message.json")
    event.update({"payload": base64.b64encode(raw).decode(), "thing": thing, "client_id": thing})
    return event


def test_message_sample_event_is_answered_on_the_out_topic(stack: Stack) -> None:
    assert invoke(load_event("mqtt/message.json")) == {"status": "replied", "message_id": "dev-msg-0001"}
    (reply,) = stack.recorder.published(OUT)
    assert reply["type"] == "reply"
    assert reply["message_id"] == "dev-msg-0001"
    # No conversation id in the payload (per_user): the device's current conversation, under its own owner key.
    stored = {i["pk"]["S"] for i in stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"]}
    assert f"C#thing:{THING}#{reply['conversation_id']}" in stored
    assert reply["messages"][0]["text"]


def test_redelivered_message_is_processed_and_answered_once(stack: Stack) -> None:
    event = load_event("mqtt/message.json")
    assert invoke(event)["status"] == "replied"
    assert invoke(event)["status"] == "replied"
    # IoT redelivery (or a Lambda retry) of the same message id: no second turn and no second reply on the topic.
    assert len(stack.recorder.published(OUT)) == 1
    turns = [
        i for i in stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"] if i["sk"]["S"][:3] == "T#0"
    ]
    assert len(turns) == 1


@pytest.mark.parametrize(
    ("sample", "code"),
    [
        ("mqtt/not_json.json", "invalid_input"),
        ("mqtt/missing_message_id.json", "invalid_input"),
        ("mqtt/spoofed_identity.json", "invalid_input"),
    ],
)
def test_unprocessable_payload_gets_an_error_reply_and_a_dead_letter_record(
    stack: Stack, sample: str, code: str
) -> None:
    event = load_event(sample)
    assert invoke(event) == {"status": "rejected", "error": code}
    (reply,) = stack.recorder.published(OUT)
    assert reply["type"] == "error" and reply["error"] == code
    (record,) = stack.dead_letters()
    assert record["reason"] == "permanent_error" and record["error"] == code
    assert record["event"] == event
    assert stack.count_items("StateTable") == 0


def test_text_over_16kb_is_refused_with_payload_too_large(stack: Stack) -> None:
    assert (
        invoke(device_message({"text": "x" * (16 * 1024 + 1), "message_id": "big-1"}))["error"] == "payload_too_large"
    )
    assert stack.recorder.published(OUT)[0]["error"] == "payload_too_large"


def test_event_without_a_thing_is_dead_lettered_without_a_reply(stack: Stack) -> None:
    event = load_event("mqtt/message.json")
    del event["thing"]
    assert invoke(event)["status"] == "rejected"
    assert stack.recorder.publishes == []
    assert len(stack.dead_letters()) == 1


def test_transient_storage_failure_raises_so_lambda_retries(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from clawline import composition

    calls = {"n": 0}
    store = composition.conversation_store()
    real_save = store.save

    def throttled_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RetryableError("storage is busy, try again")
        return real_save(*args, **kwargs)

    monkeypatch.setattr(store, "save", throttled_once)
    event = load_event("mqtt/message.json")
    with pytest.raises(RetryableError):
        invoke(event)
    assert stack.recorder.publishes == [] and stack.dead_letters() == []
    assert invoke(event)["status"] == "replied"  # Lambda's retry: processed exactly once
    assert len(stack.recorder.published(OUT)) == 1
