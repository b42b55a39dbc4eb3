"""Fault test: 1,000 turns across HTTP, WebSocket and MQTT with DynamoDB throttling injected on 5% of calls and a
plugin that times out. Nothing is lost: every turn is answered or lands in the dead-letter queue, and none twice.

The handlers run in-process against moto (in-process, for speed) with the template's tables. A botocore hook,
registered first on the functions' DynamoDB client, answers 5% of requests with a throttling error before moto
sees them, and the SDK is allowed 2 attempts, so throttling regularly survives the SDK's retries and reaches the
code (RetryableError). Clients behave as the real ones do: an HTTP or WebSocket client resends the same message
id after a 503 / "temporarily_unavailable"; Lambda retries an MQTT event twice, then hands it to the OnFailure
destination (the dead-letter queue).
"""

from __future__ import annotations

import json
import random
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.retries import standard
from moto import mock_aws

from clawline import composition
from local.template import Template, create_tables
from tests.helpers.aws import Recorder, serve_recorder
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context
from tests.helpers.plugins import manifest, write_manifest
from tests.security.conftest import invoke_http, invoke_mqtt, invoke_ws, mqtt_event, ws_connect, ws_message

TURNS = int(__import__("os").environ.get("CLAWLINE_FAULT_TURNS", "1000"))
THROTTLE_RATE = 0.05
RETRYABLE = {"temporarily_unavailable", "conflict"}
INJECTED = "x-clawline-fault-injected"

PLUGIN = '''
import asyncio
from clawline.plugins.base import BasePlugin, PluginResult


class Lookup(BasePlugin):
    """Answers at once, except for "slow" messages, where it hangs past its 30 ms budget."""

    name = "lookup"

    async def action(self, ctx, params):
        if ctx.message.text.startswith("slow"):
            await asyncio.sleep(5)
        return PluginResult(replies=["looked up"])
'''

BOT = """
name: faultbot
settings: {{mode: rules, plugin_error: plugin_failed, plugin_timeout_ms: 30}}
responses:
  fallback: ["Sorry?"]
  plugin_failed: ["The lookup is slow today."]
  done: ["done"]
plugins:
  - {{module: "{module}", class: "Lookup"}}
rules:
  - name: lookup
    when: "true"
    then: [{{plugin: lookup}}, {{reply: done}}]
"""


class Throttler:
    """Answers a fraction of DynamoDB requests with a throttling error before they reach moto."""

    def __init__(self, rate: float, seed: int = 6) -> None:
        self.rate = rate
        self.random = random.Random(seed)
        self.calls = 0
        self.injected = 0

    def __call__(self, request: Any, **_: Any) -> AWSResponse | None:
        self.calls += 1
        if self.random.random() >= self.rate:
            request.headers.pop(INJECTED, None)
            return None
        self.injected += 1
        request.headers[INJECTED] = "1"  # tells moto not to apply it: a throttled request is never applied
        code = self.random.choice(["ThrottlingException", "ProvisionedThroughputExceededException"])
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"}).encode()

        class Raw:
            def stream(self, **_: Any) -> Iterator[bytes]:
                yield body

        return AWSResponse(request.url, 400, {"content-type": "application/x-amz-json-1.0"}, Raw())


def _snapshot_tables_cheaply(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto deep-copies every table touched by a transaction (for rollback): quadratic over 1,000 turns.

    Our transactions only Put (whole items are replaced, never mutated in place), so copying the partition
    dicts restores exactly the same state on rollback. Test infrastructure only; nothing else changes.
    """
    import copy as real_copy
    from collections import defaultdict

    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    class CopyForRollback:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_copy, name)

        @staticmethod
        def deepcopy(obj: Any, memo: Any = None) -> Any:
            if isinstance(obj, Table):
                snapshot = real_copy.copy(obj)
                snapshot.items = defaultdict(
                    dict, {k: (dict(v) if isinstance(v, dict) else v) for k, v in obj.items.items()}
                )
                return snapshot
            return real_copy.deepcopy(obj, memo)

    monkeypatch.setattr(models, "copy", CopyForRollback())


@pytest.fixture
def faulty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    module = f"fault_plugins_{id(tmp_path)}"
    (tmp_path / f"{module}.py").write_text(PLUGIN, encoding="utf-8")
    write_manifest(tmp_path / f"{module}.py", manifest("Lookup", "lookup", ["action"]))
    monkeypatch.syspath_prepend(str(tmp_path))
    bot = tmp_path / "faultbot"
    bot.mkdir()
    (bot / "bot.yaml").write_text(textwrap.dedent(BOT.format(module=module)), encoding="utf-8")
    # botocore calls every before-send handler; moto's would apply the request our throttle answered.
    from moto.core.botocore_stubber import BotocoreStubber

    moto_call = BotocoreStubber.__call__

    def unless_throttled(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        return None if request.headers.get(INJECTED) else moto_call(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", unless_throttled)
    _snapshot_tables_cheaply(monkeypatch)
    # Backoff is computed as usual but not slept: the test is about outcomes, not wall-clock waits.
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)

    recorder = Recorder()
    serving = serve_recorder(recorder)
    recorder_url = next(serving)
    with mock_aws():
        tables = create_tables(boto3.client("dynamodb", region_name="us-east-1"), Template.read(), suffix="-fault")
        queue_url = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="fault-dlq")["QueueUrl"]
        for key in [k for k in list(__import__("os").environ) if k.startswith("AWS_ENDPOINT_URL")]:
            monkeypatch.delenv(key)
        env = {
            "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": f"{recorder_url}/dev",
            "AWS_ENDPOINT_URL_IOT_DATA_PLANE": recorder_url,
            "CLAWLINE_BOT_PATH": str(bot),
            "CLAWLINE_STATE_TABLE": tables["StateTable"],
            "CLAWLINE_CONNECTIONS_TABLE": tables["ConnectionsTable"],
            "CLAWLINE_IDEMPOTENCY_TABLE": tables["IdempotencyTable"],
            "CLAWLINE_RATE_LIMIT_TABLE": tables["RateLimitTable"],
            "CLAWLINE_RATE_LIMIT_CAPACITY": "100000",
            "CLAWLINE_RATE_LIMIT_PER_SECOND": "1000",
            "CLAWLINE_DEAD_LETTER_QUEUE_URL": queue_url,
            "CLAWLINE_DYNAMODB_MAX_ATTEMPTS": "2",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        composition.reset()
        import mqtt_handler

        mqtt_handler.dead_letters.cache_clear()
        throttler = Throttler(THROTTLE_RATE)
        composition.dynamodb().meta.events.register_first("before-send.dynamodb", throttler)
        yield {"recorder": recorder, "throttler": throttler, "tables": tables, "queue_url": queue_url}
        composition.reset()
        mqtt_handler.dead_letters.cache_clear()
    next(serving, None)


def context() -> Any:
    # A short invocation deadline, so an in-progress record left by a failed completion expires quickly.
    return lambda_context(timeout_seconds=0.3)


def http_turn(i: int, text: str, outcomes: dict[str, str], stats: Counter[str]) -> None:
    message_id = f"h-{i}"
    event = load_event("http/post_message.json")
    event["body"] = json.dumps({"text": text, "conversation_id": f"hc-{i % 300}", "message_id": message_id})
    for _attempt in range(12):
        status, body, _ = invoke_http(event)
        if status == 200:
            assert body is not None and body["message_id"] == message_id and body["replies"]
            outcomes[message_id] = "answered"
            return
        assert status in (503, 409), (status, body)
        stats["http_retries"] += 1
        time.sleep(0.05)
    outcomes[message_id] = "lost"


def ws_turn(i: int, text: str, recorder: Recorder, outcomes: dict[str, str], stats: Counter[str]) -> None:
    message_id = f"w-{i}"
    connection = f"conn-{i % 20}"
    body = {"text": text, "message_id": message_id, "conversation_id": f"wc-{i % 300}"}
    for _attempt in range(12):
        seen = len(recorder.posts)
        invoke_ws(ws_message(connection, body), context())
        frames = [json.loads(data) for cid, data in recorder.posts[seen:] if cid == connection]
        assert len(frames) == 1, frames
        if frames[0]["type"] == "reply":
            outcomes[message_id] = "answered"
            return
        assert frames[0]["error"] in RETRYABLE, frames[0]
        stats["ws_retries"] += 1
        time.sleep(0.05)
    outcomes[message_id] = "lost"


def mqtt_turn(i: int, text: str, dlq: Any, queue_url: str, outcomes: dict[str, str], stats: Counter[str]) -> None:
    message_id = f"m-{i}"
    event = mqtt_event({"text": text, "message_id": message_id}, thing=f"device-{i % 300}")
    for _attempt in range(3):  # the first invoke and Lambda's MaximumRetryAttempts: 2
        try:
            result = invoke_mqtt(event, context())
        except Exception:  # noqa: BLE001 - whatever the function raises, Lambda retries the event
            stats["mqtt_retries"] += 1
            time.sleep(0.35)  # past the in-progress expiry, as Lambda's retry delay is
            continue
        outcomes[message_id] = {"replied": "answered", "undelivered": "dead-lettered"}.get(
            result["status"], result["status"]
        )
        return
    # OnFailure destination: Lambda sends the event to the dead-letter queue.
    dlq.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"reason": "on_failure", "event": event}))
    outcomes[message_id] = "dead-lettered"


def dead_lettered_ids(dlq: Any, queue_url: str) -> list[str]:
    import base64

    ids: list[str] = []
    while True:
        messages = dlq.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return ids
        for m in messages:
            event = json.loads(m["Body"])["event"]
            ids.append(json.loads(base64.b64decode(event["payload"]))["message_id"])
            dlq.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


@pytest.mark.slow
def test_fault_turns_under_throttling_and_a_slow_plugin_are_answered_or_dead_lettered_never_twice(
    faulty: dict[str, Any],
) -> None:
    recorder: Recorder = faulty["recorder"]
    throttler: Throttler = faulty["throttler"]
    dlq = boto3.client("sqs", region_name="us-east-1")
    outcomes: dict[str, str] = {}
    stats: Counter[str] = Counter()
    for c in range(20):
        connect = ws_connect(f"conn-{c}", f"ws-user-{c}")
        while invoke_ws(connect, context()) != {"statusCode": 200}:
            stats["connect_retries"] += 1  # $connect throttled: API Gateway would answer 500; the client retries
            composition.connection_store().remove(f"conn-{c}")

    for i in range(TURNS):
        text = f"slow order {i}" if i % 25 == 0 else f"hello {i}"
        channel = i % 3
        if channel == 0:
            http_turn(i, text, outcomes, stats)
        elif channel == 1:
            ws_turn(i, text, recorder, outcomes, stats)
        else:
            mqtt_turn(i, text, dlq, faulty["queue_url"], outcomes, stats)

    # The faults really happened, and really reached the code (not only the SDK's own retries).
    assert throttler.injected >= 0.03 * throttler.calls
    assert sum(stats.values()) > 0, stats

    # Nothing lost: every turn answered or dead-lettered.
    assert len(outcomes) == TURNS
    assert Counter(outcomes.values()).keys() <= {"answered", "dead-lettered"}, Counter(outcomes.values())
    dead = dead_lettered_ids(dlq, faulty["queue_url"])
    assert sorted(dead) == sorted(k for k, v in outcomes.items() if v == "dead-lettered")

    # None twice: one stored turn per answered message, one reply frame / publish per message.
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    stored: Counter[str] = Counter()
    for page in ddb.get_paginator("scan").paginate(TableName=faulty["tables"]["StateTable"]):
        stored.update(i["message_id"]["S"] for i in page["Items"] if i["sk"]["S"].startswith("T#"))
    assert max(stored.values()) == 1, [k for k, v in stored.items() if v > 1]
    assert {k for k, v in outcomes.items() if v == "answered"} <= set(stored)
    replies = Counter(
        json.loads(data)["message_id"] for _cid, data in recorder.posts if json.loads(data).get("type") == "reply"
    )
    replies.update(
        json.loads(data)["message_id"] for _t, data in recorder.publishes if json.loads(data)["type"] == "reply"
    )
    assert max(replies.values()) == 1, [k for k, v in replies.items() if v > 1]
    assert not set(replies) & set(dead)

    # The slow plugin timed out on its turns and they were answered with the plugin-error reply.
    slow_texts = [json.loads(d) for _c, d in recorder.posts if json.loads(d).get("type") == "reply"]
    assert any(m["messages"][0]["text"] == "The lookup is slow today." for m in slow_texts)
