"""R1-R4, R6, R7: the MQTT function under Lambda's asynchronous-invoke semantics (redelivery, retries, timeouts).

Every test invokes the real handler with the sample events against moto's DynamoDB and SQS; the reply topic and
@connections are the loopback recorder.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from clawline import composition
from clawline.errors import RetryableError
from clawline.event_loop import event_loop
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
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

    def save(self, state: Any, turn: Any, **kwargs: Any) -> Any:
        self.saves += 1
        if self.saves == 1:
            raise RetryableError("storage is busy, try again", details={"code": "ThrottlingException"})
        return self.inner.save(state, turn, **kwargs)


def test_r04_transient_failure_raises_releases_the_record_and_the_retry_processes_exactly_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = composition.engine()
    flaky = FlakyStore(engine.store)
    monkeypatch.setattr(engine, "store", flaky)

    with pytest.raises(RetryableError):
        invoke_mqtt(load_event("mqtt/message.json"))
    # Nothing says "in progress" or "completed" for this message: the turn's one write never happened (the
    # device's conversation was started, its pointer written: that blocks nothing).
    assert turn_items(stack) == []
    assert not stack.recorder.published(REPLY_TOPIC)

    assert invoke_mqtt(load_event("mqtt/message.json")) == {"status": "replied", "message_id": "dev-msg-0001"}
    assert flaky.saves == 2
    assert len(turn_items(stack)) == 1
    assert len(stack.recorder.published(REPLY_TOPIC)) == 1
    assert not stack.dead_letters()


def _second_container() -> Any:
    """Another warm container of the same function: its own engine and turn runner, the same tables."""
    from clawline.turns import TurnRunner

    return TurnRunner(composition.engine.__wrapped__(), invocation_id=composition.invocation_id)


def _held_in_decision(engine: Any) -> tuple[threading.Event, threading.Event]:
    """Make ``engine`` stop inside its first decision until released: a delivery still in flight."""
    entered, release = threading.Event(), threading.Event()
    original = engine._decide

    async def holding(turn: Any) -> Any:
        if not entered.is_set():
            entered.set()
            # A turn that calls no plugin runs without an event loop; asking for one is how engine code uses asyncio.
            await event_loop()
            await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        return await original(turn)

    engine._decide = holding
    return entered, release


@pytest.mark.parametrize("channel", ["mqtt", "http"])
def test_r06_a_duplicate_delivered_while_the_first_is_in_flight_is_stored_and_answered_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, channel: str
) -> None:
    """Two containers get the same message at once (IoT redelivery, a client retrying a slow request)."""
    from tests.security.conftest import invoke_http

    def deliver() -> Any:
        if channel == "mqtt":
            return invoke_mqtt(load_event("mqtt/message.json"))
        return invoke_http(load_event("http/post_message.json"))[:2]

    entered, release = _held_in_decision(composition.engine())
    first: list[Any] = []

    def deliver_in_another_thread() -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())  # Mangum wants one, as the Lambda runtime's thread has
        first.append(deliver())

    in_flight = threading.Thread(target=deliver_in_another_thread)
    in_flight.start()
    assert entered.wait(10)
    try:
        second_container = _second_container()
        with monkeypatch.context() as patched:
            patched.setattr(composition, "turn_runner", lambda: second_container)
            duplicate = deliver()
    finally:
        release.set()
        in_flight.join(15)

    # Both deliveries get the same answer; one turn is stored and (on IoT) one reply published.
    assert first == [duplicate]
    if channel == "mqtt":
        assert duplicate == {"status": "replied", "message_id": "dev-msg-0001"}
        assert len(stack.recorder.published(REPLY_TOPIC)) == 1
    else:
        assert duplicate[0] == 200 and duplicate[1]["message_id"] == "msg-0001"
    assert len(turn_items(stack)) == 1
    assert not stack.dead_letters()


def test_r07_a_turn_cut_off_by_its_deadline_leaves_nothing_that_blocks_its_retry(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lambda kills an invocation at its timeout: no in-progress record may outlive it and refuse the retry."""
    engine = composition.engine()
    original = engine._decide
    calls: list[str] = []

    async def timing_out_once(turn: Any) -> Any:
        calls.append(turn.message.message_id)
        if len(calls) == 1:
            raise TimeoutError("Task timed out after 1.00 seconds")  # what the runtime does to the invocation
        return await original(turn)

    monkeypatch.setattr(engine, "_decide", timing_out_once)
    with pytest.raises(TimeoutError):
        invoke_mqtt(load_event("mqtt/message.json"))
    assert turn_items(stack) == []
    # Lambda's retry, at once: answered, stored once, published once.
    retry = invoke_mqtt(load_event("mqtt/message.json"))
    assert retry == {"status": "replied", "message_id": "dev-msg-0001"}
    assert calls == ["dev-msg-0001", "dev-msg-0001"]
    assert len(turn_items(stack)) == 1
    assert len(stack.recorder.published(REPLY_TOPIC)) == 1
