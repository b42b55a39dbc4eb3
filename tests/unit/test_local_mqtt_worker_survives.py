"""The local MQTT path keeps working after failures, as IoT Core and Lambda do.

- The asynchronous worker survives its failure queue being down (or refusing a record): later events still run.
- The OnFailure record always fits one SQS message: an oversized event is kept as an excerpt and a digest.
- The rule emulator refuses payloads over IoT Core's 128 KB, and treats a 10k-deep JSON like any payload that is
  not JSON (the function then answers it on its invalid-payload path) instead of failing silently.
"""

from __future__ import annotations

import base64
import hashlib
import json
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from local import iotsql
from local.functions import SQS_MAX_MESSAGE_BYTES, AsyncInvoker, FunctionError
from local.mqtt import RuleEngine
from local.template import FunctionSpec, Template, TopicRuleSpec, topic_rules


class FailingFunction:
    """A function whose invokes fail (Lambda's ``Unhandled``) until told otherwise, recording what it ran."""

    def __init__(self) -> None:
        self.spec = FunctionSpec(
            logical_id="MqttFunction",
            name="clawline-mqtt-test",
            code_uri=Path("."),
            handler="mqtt_handler.handler",
            timeout_seconds=15,
            memory_mb=512,
            environment={},
            max_retry_attempts=0,
        )
        self.fail = True
        self.ran: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any], request_id: str | None = None) -> Future[Any]:
        self.ran.append(event)
        future: Future[Any] = Future()
        if self.fail:
            future.set_exception(FunctionError("RuntimeError", "DynamoDB is down"))
        else:
            future.set_result({"status": "ok"})
        return future


def test_the_worker_keeps_running_events_after_the_failure_queue_is_down() -> None:
    function = FailingFunction()
    lines: list[str] = []

    def queue_down(_record: dict[str, Any]) -> None:
        raise ConnectionError("SQS is down too")

    invoker = AsyncInvoker(function, on_failure=queue_down, retry_delays=(), log=lines.append)  # type: ignore[arg-type]
    try:
        invoker.submit({"thing": "dev-1", "payload": "x"})
        assert invoker.wait_idle(10)
        function.fail = False
        invoker.submit({"thing": "dev-1", "payload": "y"})
        assert invoker.wait_idle(10), "the second event never ran: the worker died with the first"
        assert [e["payload"] for e in function.ran] == ["x", "y"]
        assert any("could not be sent" in line for line in lines)
    finally:
        invoker.close()


def test_an_oversized_event_is_dead_lettered_as_an_excerpt_and_a_digest_that_fit_sqs() -> None:
    function = FailingFunction()
    records: list[dict[str, Any]] = []
    invoker = AsyncInvoker(function, on_failure=records.append, retry_delays=(), log=lambda _l: None)  # type: ignore[arg-type]
    big = {"thing": "dev-1", "payload": base64.b64encode(b"x" * 1_000_000).decode()}
    small = {"thing": "dev-1", "payload": "aGk="}
    try:
        invoker.submit(big)
        invoker.submit(small)
        assert invoker.wait_idle(10)
    finally:
        invoker.close()
    oversized, fitting = records
    assert len(json.dumps(oversized).encode()) <= SQS_MAX_MESSAGE_BYTES
    kept = oversized["requestPayload"]
    assert kept["truncated"] is True
    assert kept["sha256"] == hashlib.sha256(json.dumps(big).encode()).hexdigest()
    assert kept["excerpt"].startswith('{"thing": "dev-1"')
    assert fitting["requestPayload"] == small  # an event that fits is kept whole, as Lambda keeps it


def rule_engine() -> tuple[RuleEngine, list[dict[str, Any]]]:
    (spec,) = [s for s in topic_rules(Template.read()) if "clawline/+/in" in s.sql]
    submitted: list[dict[str, Any]] = []

    class Invoker:
        def submit(self, event: dict[str, Any]) -> str:
            submitted.append(event)
            return "id"

    rule: TopicRuleSpec = spec
    return RuleEngine([(rule, iotsql.parse(rule.sql))], {rule.function: Invoker()}, log=lambda _l: None), submitted  # type: ignore[dict-item]


def test_a_10k_deep_json_reaches_the_function_like_any_payload_that_is_not_json() -> None:
    engine, submitted = rule_engine()
    deep = b"[" * 10_000 + b"]" * 10_000
    engine.on_message("clawline/dev-1/in", deep, "dev-1")
    (event,) = submitted
    assert base64.b64decode(event["payload"]) == deep
    assert event["thing"] == "dev-1"


def test_a_payload_over_128_kb_is_refused_like_iot_core_does() -> None:
    engine, submitted = rule_engine()
    engine.on_message("clawline/dev-1/in", b'{"text": "' + b"x" * (128 * 1024) + b'"}', "dev-1")
    assert submitted == []
    engine.on_message("clawline/dev-1/in", b'{"text": "hi", "message_id": "m1"}', "dev-1")
    assert len(submitted) == 1
