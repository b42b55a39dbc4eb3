"""R1-R4, R6, R7: the MQTT function under Lambda's asynchronous-invoke semantics (redelivery, retries, timeouts).

Every test invokes the real handler with the sample events against moto's DynamoDB and SQS; the reply topic and
@connections are the loopback recorder.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import pytest

from clawline import composition
from clawline.errors import RetryableError
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context
from tests.security.conftest import emf_metrics, invoke_mqtt, mqtt_event

REPLY_TOPIC = "clawline/kitchen-speaker-1/out"


def turn_items(stack: Stack) -> list[dict[str, Any]]:
    items = stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"]
    return [i for i in items if i["sk"]["S"].startswith("T#")]


def test_r01_replayed_iot_message_is_processed_once(
    stack: Stack, engine_calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    first = invoke_mqtt(load_event("mqtt/message.json"))
    state_after_first = stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"]
    second = invoke_mqtt(load_event("mqtt/message.json"))

    assert first == second == {"status": "replied", "message_id": "dev-msg-0001"}
    assert engine_calls == ["dev-msg-0001"]
    assert len(turn_items(stack)) == 1
    assert stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"] == state_after_first
    (reply,) = stack.recorder.published(REPLY_TOPIC)
    assert reply["type"] == "reply" and reply["message_id"] == "dev-msg-0001"
    metrics = emf_metrics(capsys.readouterr().out)
    assert metrics.count("Turns") == 1
    assert metrics.count("DuplicateMessages") == 1
    assert not stack.dead_letters()


def test_r02_same_message_id_with_a_different_payload_is_rejected_not_reprocessed(
    stack: Stack, engine_calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke_mqtt(mqtt_event({"text": "hello there", "message_id": "m-r02"}))["status"] == "replied"
    capsys.readouterr()

    result = invoke_mqtt(mqtt_event({"text": "transfer all my money", "message_id": "m-r02"}))

    assert result == {"status": "rejected", "error": "conflict"}
    assert engine_calls == ["m-r02"]
    assert "TamperedReplay" in emf_metrics(capsys.readouterr().out)
    assert len(turn_items(stack)) == 1
    (dead,) = stack.dead_letters()
    assert dead["error"] == "conflict"


def test_r03_iot_message_without_message_id_is_a_permanent_error_recorded_without_raising(
    stack: Stack, engine_calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke_mqtt(load_event("mqtt/missing_message_id.json"))

    assert result == {"status": "rejected", "error": "invalid_input"}
    assert engine_calls == []
    (dead,) = stack.dead_letters()
    assert dead["reason"] == "permanent_error" and dead["error"] == "invalid_input"
    assert dead["event"] == load_event("mqtt/missing_message_id.json")
    assert "RejectedInput" in emf_metrics(capsys.readouterr().out)
    (error_reply,) = stack.recorder.published(REPLY_TOPIC)
    assert error_reply["type"] == "error"


class FlakyStore:
    """The real conversation store, throttled (after the SDK's retries) on the first save only."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.saves = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def save(self, state: Any, turn: Any) -> Any:
        self.saves += 1
        if self.saves == 1:
            raise RetryableError("storage is busy, try again", details={"code": "ThrottlingException"})
        return self.inner.save(state, turn)


def test_r04_transient_failure_raises_releases_the_record_and_the_retry_processes_exactly_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = composition.engine()
    flaky = FlakyStore(engine.store)
    monkeypatch.setattr(engine, "store", flaky)

    with pytest.raises(RetryableError):
        invoke_mqtt(load_event("mqtt/message.json"))
    # The idempotency record was released: nothing says "in progress" or "completed" for this message.
    assert stack.count_items("IdempotencyTable") == 0
    assert not stack.recorder.published(REPLY_TOPIC)

    assert invoke_mqtt(load_event("mqtt/message.json")) == {"status": "replied", "message_id": "dev-msg-0001"}
    assert flaky.saves == 2
    assert len(turn_items(stack)) == 1
    assert len(stack.recorder.published(REPLY_TOPIC)) == 1
    assert not stack.dead_letters()


def _only_idempotency_record(stack: Stack) -> dict[str, Any]:
    (item,) = stack.dynamodb().scan(TableName=stack.tables["IdempotencyTable"])["Items"]
    return dict(item)


def test_r06_concurrent_in_flight_duplicate_is_retryable_on_iot_and_503_on_http(
    stack: Stack, engine_calls: list[str]
) -> None:
    from tests.security.conftest import invoke_http

    assert invoke_mqtt(load_event("mqtt/message.json"))["status"] == "replied"
    item = _only_idempotency_record(stack)
    # Make that record look like a turn still running in another container.
    future_ms = int((time.time() + 60) * 1000)
    stack.dynamodb().put_item(
        TableName=stack.tables["IdempotencyTable"],
        Item={
            "id": item["id"],
            "status": {"S": "INPROGRESS"},
            "expiration": {"N": str(int(time.time()) + 3600)},
            "in_progress_expiration": {"N": str(future_ms)},
            **({"validation": item["validation"]} if "validation" in item else {}),
        },
    )
    with pytest.raises(RetryableError):
        invoke_mqtt(load_event("mqtt/message.json"))
    assert engine_calls == ["dev-msg-0001"]
    assert not stack.dead_letters()

    # The same on HTTP: an in-flight duplicate is "try again", never a second turn.
    event = load_event("http/post_message.json")
    assert invoke_http(event)[0] == 200
    http_items = [
        i
        for i in stack.dynamodb().scan(TableName=stack.tables["IdempotencyTable"])["Items"]
        if i["id"]["S"] != item["id"]["S"]
    ]
    (http_item,) = http_items
    stack.dynamodb().update_item(
        TableName=stack.tables["IdempotencyTable"],
        Key={"id": http_item["id"]},
        UpdateExpression="SET #s = :s, in_progress_expiration = :e",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "INPROGRESS"}, ":e": {"N": str(future_ms)}},
    )
    status, body, _ = invoke_http(load_event("http/post_message.json"))
    assert status == 503
    assert body is not None and body["error"] == "temporarily_unavailable"
    assert engine_calls == ["dev-msg-0001", "msg-0001"]


def test_r07_in_progress_record_expires_with_the_invocation_deadline(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = composition.engine()
    seen: list[int] = []
    original = engine.handle

    async def reading_the_record(message: Any) -> Any:
        seen.append(int(_only_idempotency_record(stack)["in_progress_expiration"]["N"]))
        return await original(message)

    monkeypatch.setattr(engine, "handle", reading_the_record)
    with warnings.catch_warnings():
        # Powertools warns when no Lambda context was registered: that warning is the bug this test guards.
        warnings.simplefilter("error", UserWarning)
        before_ms = time.time() * 1000
        assert (
            invoke_mqtt(load_event("mqtt/message.json"), lambda_context("clawline-mqtt", timeout_seconds=1.0))["status"]
            == "replied"
        )
    (expiration_ms,) = seen
    assert before_ms + 500 <= expiration_ms <= before_ms + 1500
