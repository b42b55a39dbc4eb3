"""Fault test: 10,000 turns (``make fault``; ``make test`` runs fewer) across HTTP, WebSocket and MQTT, with
DynamoDB throttling injected on 5% of calls and a plugin that times out. Every turn is answered or dead-lettered,
none twice, each conversation's turns stored in the order its client sent them.

The handlers run in process against moto (in process, for speed) with the template's tables. A botocore hook,
registered first on the functions' DynamoDB client, answers 5% of requests with a throttling error before moto
sees them, and the SDK is allowed 2 attempts, so throttling regularly survives the SDK's retries and reaches the
code (RetryableError).

Clients run concurrently (threads), one conversation each, and behave as real ones do: an HTTP or WebSocket client
resends the same message id after a 503 / "temporarily_unavailable", and now and then sends a message twice at
once (a retry while the first is still in flight). MQTT events go through the local runtime's emulation of
Lambda's asynchronous invoke (``local.functions.AsyncInvoker``: two retries under the same request id, then the
OnFailure destination, the dead-letter queue); the IoT broker sometimes delivers an event twice at once. What
each client sent is recorded by the client (the ``Ledger``), never read back from the system under test.
"""

from __future__ import annotations

import base64
import json
import random
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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
from tests.security.conftest import invoke_http, invoke_ws, mqtt_event, ws_connect, ws_message

TURNS = int(__import__("os").environ.get("CLAWLINE_FAULT_TURNS", "10000"))
#: Messages per conversation (each client sends them in order, waiting for each answer).
PER_CONVERSATION = 10
#: How often a client sends a message twice at once.
DUPLICATE_RATE = 0.05
#: Dead letters allowed, as a share of MQTT messages: an event fails all three attempts only when throttling
#: beats the SDK's two attempts on every one of them.
MAX_DEAD_LETTER_SHARE = 0.02
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
    # DynamoDB applies each request atomically; moto's in-process backend is not thread-safe (a Query iterating a
    # table's items while another thread's PutItem adds one raised "dictionary changed size during iteration",
    # answered as an internal error, in one run of 10,000 turns). One request at a time, as a server would apply them.
    applying = threading.Lock()

    def unless_throttled(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        if request.headers.get(INJECTED):
            return None
        with applying:
            return moto_call(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", unless_throttled)
    _snapshot_tables_cheaply(monkeypatch)
    # Backoff is computed as usual but not slept: the test is about outcomes, not wall-clock waits.
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)

    import asyncio

    asyncio.set_event_loop(asyncio.new_event_loop())  # Mangum, on this thread too
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


@dataclass
class Ledger:
    """What the clients sent and saw, kept by the clients: the test's record, independent of the system."""

    sent: dict[str, list[str]] = field(default_factory=dict)  # conversation -> message ids, in send order
    answered: dict[str, dict[str, Any]] = field(default_factory=dict)  # message id -> the reply the client got
    duplicated: set[str] = field(default_factory=set)
    given_up: list[str] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, conversation: str, message_id: str) -> None:
        with self.lock:
            self.sent.setdefault(conversation, []).append(message_id)

    def answer(self, message_id: str, reply: dict[str, Any]) -> None:
        with self.lock:
            first = self.answered.setdefault(message_id, reply)
        # A message asked twice is answered with the same reply both times.
        assert first == reply, (message_id, first, reply)

    def count(self, what: str) -> None:
        with self.lock:
            self.stats[what] += 1


def text_for(n: int) -> str:
    return f"slow order {n}" if n % 25 == 0 else f"hello {n}"


def twice(random_: random.Random, lock: threading.Lock) -> bool:
    with lock:
        return random_.random() < DUPLICATE_RATE


def in_parallel(*calls: Any) -> None:
    threads = [threading.Thread(target=c) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def http_client(c: int, ledger: Ledger, rnd: random.Random, lock: threading.Lock) -> None:
    import asyncio

    asyncio.set_event_loop(asyncio.new_event_loop())
    conversation = f"hc-{c}"
    for k in range(PER_CONVERSATION):
        message_id = f"h{c}-{k}"
        event = load_event("http/post_message.json")
        event["requestContext"]["authorizer"] = {"lambda": {"sub": f"http-user-{c}", "scope": "chat"}}
        event["body"] = json.dumps(
            {"text": text_for(c * PER_CONVERSATION + k), "conversation_id": conversation, "message_id": message_id}
        )
        ledger.send(conversation, message_id)

        def deliver(event: dict[str, Any] = event, message_id: str = message_id) -> None:
            asyncio.set_event_loop(asyncio.new_event_loop())
            for _attempt in range(12):
                status, body, headers = invoke_http(json.loads(json.dumps(event)))
                if status == 200:
                    assert body is not None and body["message_id"] == message_id and body["replies"]
                    ledger.answer(message_id, body)
                    return
                assert status in (503, 409), (status, body)
                if status == 503:
                    assert int(headers["retry-after"]) >= 1
                ledger.count("http_retries")
                time.sleep(0.02)
            ledger.given_up.append(message_id)

        if twice(rnd, lock):
            ledger.duplicated.add(message_id)
            in_parallel(deliver, deliver)
        else:
            deliver()


def ws_client(c: int, recorder: Recorder, ledger: Ledger, rnd: random.Random, lock: threading.Lock) -> None:
    connection = f"conn-{c}="
    sub = f"ws-user-{c}"
    authorizer = {"principalId": sub, "sub": sub, "scope": "chat"}
    connect = ws_connect(connection, sub)
    while invoke_ws(connect, lambda_context()) != {"statusCode": 200}:
        ledger.count("connect_retries")  # $connect throttled: API Gateway would answer 500; the client retries
        composition.connection_store().remove(connection)
    conversation = f"wc-{c}"
    for k in range(PER_CONVERSATION):
        message_id = f"w{c}-{k}"
        body = {"text": text_for(c * PER_CONVERSATION + k), "message_id": message_id, "conversation_id": conversation}
        ledger.send(conversation, message_id)

        def deliver(body: dict[str, Any] = body, message_id: str = message_id) -> None:
            for _attempt in range(12):
                event = ws_message(connection, body)
                event["requestContext"]["authorizer"] = dict(authorizer)
                invoke_ws(event, lambda_context())
                with recorder.lock:
                    frames = [json.loads(d) for cid, d in recorder.posts if cid == connection]
                mine = [f for f in frames if f.get("message_id") == message_id]
                replies = [f for f in mine if f["type"] == "reply"]
                if replies:
                    ledger.answer(message_id, replies[-1])
                    return
                assert mine and mine[-1]["error"] in RETRYABLE, mine
                ledger.count("ws_retries")
                time.sleep(0.02)
            ledger.given_up.append(message_id)

        if twice(rnd, lock):
            ledger.duplicated.add(message_id)
            in_parallel(deliver, deliver)
        else:
            deliver()


def mqtt_device(
    c: int, invoker: Any, done: dict[str, threading.Event], ledger: Ledger, rnd: random.Random, lock: threading.Lock
) -> None:
    thing = f"device-{c}"
    for k in range(PER_CONVERSATION):
        message_id = f"m{c}-{k}"
        event = mqtt_event({"text": text_for(c * PER_CONVERSATION + k), "message_id": message_id}, thing=thing)
        ledger.send(thing, message_id)
        finished = done.setdefault(message_id, threading.Event())
        invoker.submit(event)
        if twice(rnd, lock):
            ledger.duplicated.add(message_id)
            invoker.submit(event)  # the broker delivers it twice; the rule invokes the function twice
        # A device waits for its answer (or, here, for Lambda to give up) before it sends the next message.
        assert finished.wait(120), message_id


def dead_lettered(dlq: Any, queue_url: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    while True:
        messages = dlq.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return records
        for m in messages:
            records.append(json.loads(m["Body"]))
            dlq.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def _message_id_in(record: dict[str, Any]) -> str:
    # Lambda's OnFailure record carries the event as requestPayload; the function's own records carry "event".
    event = record.get("requestPayload") or record["event"]
    return str(json.loads(base64.b64decode(event["payload"]))["message_id"])


@pytest.mark.slow
@pytest.mark.timeout(max(300, TURNS // 2))  # about 15 turns/s on moto in process; 10,000 turns take ~12 min
def test_fault_turns_under_throttling_and_a_slow_plugin_are_answered_or_dead_lettered_never_twice(
    faulty: dict[str, Any],
) -> None:
    from local.functions import AsyncInvoker, InProcessFunction
    from local.template import ROOT, FunctionSpec

    recorder: Recorder = faulty["recorder"]
    throttler: Throttler = faulty["throttler"]
    dlq = boto3.client("sqs", region_name="us-east-1")
    ledger = Ledger()
    rnd, rnd_lock = random.Random(16), threading.Lock()

    mqtt = Template.read().resources["MqttFunction"]["Properties"]
    async_config = mqtt.get("EventInvokeConfig") or {}
    spec = FunctionSpec(
        logical_id="MqttFunction",
        name="clawline-mqtt",
        code_uri=ROOT / "functions" / "mqtt",
        handler=mqtt["Handler"],
        timeout_seconds=15,
        memory_mb=512,
        environment={},
        max_retry_attempts=int(async_config.get("MaximumRetryAttempts", 2)),
    )
    done: dict[str, threading.Event] = {}

    def on_done(item: Any, result: Any, error: Any) -> None:
        message_id = _message_id_in({"event": item.event})
        if error is None:
            status = result["status"]
            assert status in ("replied", "undelivered"), result
            if status == "replied":
                ledger.count("mqtt_replied_invocations")
            done.setdefault(message_id, threading.Event()).set()
        else:
            ledger.count("mqtt_retries")

    def on_failure(record: dict[str, Any]) -> None:
        # Lambda's OnFailure destination (the system under test, not this test) sends the record to the queue.
        dlq.send_message(QueueUrl=faulty["queue_url"], MessageBody=json.dumps(record))
        done.setdefault(_message_id_in(record), threading.Event()).set()

    mqtt_function = InProcessFunction(spec)
    invoker = AsyncInvoker(
        mqtt_function, on_failure=on_failure, retry_delays=(0.02, 0.02), log=lambda _l: None, on_done=on_done
    )

    # Warm containers: one turn first, alone (the CEL extension sets up its logger on first use, once).
    warm = load_event("http/post_message.json")
    warm["body"] = json.dumps({"text": "warm up", "conversation_id": "warm-up", "message_id": "warm-up"})
    assert invoke_http(warm)[0] == 200

    conversations = max(3, TURNS // PER_CONVERSATION)
    clients = []
    for c in range(conversations):
        if c % 3 == 0:
            clients.append(lambda c=c: http_client(c, ledger, rnd, rnd_lock))
        elif c % 3 == 1:
            clients.append(lambda c=c: ws_client(c, recorder, ledger, rnd, rnd_lock))
        else:
            clients.append(lambda c=c: mqtt_device(c, invoker, done, ledger, rnd, rnd_lock))
    with ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(client) for client in clients]:
            future.result()
    assert invoker.wait_idle(120)
    invoker.close()
    mqtt_function.close()

    # The faults really happened, and really reached the code (not only the SDK's own retries).
    assert throttler.injected >= 0.03 * throttler.calls
    assert ledger.stats["http_retries"] + ledger.stats["ws_retries"] + ledger.stats["mqtt_retries"] > 0, ledger.stats

    sent = [m for ids in ledger.sent.values() for m in ids]
    assert len(sent) == len(set(sent)) == conversations * PER_CONVERSATION
    assert ledger.duplicated, "duplicates in flight were sent"
    # HTTP and WebSocket clients retry until answered: none gives up.
    assert ledger.given_up == []

    records = dead_lettered(dlq, faulty["queue_url"])
    dead = Counter(_message_id_in(r) for r in records)
    mqtt_sent = [m for m in sent if m.startswith("m")]
    assert max(dead.values(), default=0) <= 1, "a message dead-lettered twice"
    assert len(dead) <= MAX_DEAD_LETTER_SHARE * len(mqtt_sent), (len(dead), len(mqtt_sent))

    # Every turn answered or dead-lettered.
    replies = Counter(json.loads(d)["message_id"] for _t, d in recorder.publishes if json.loads(d)["type"] == "reply")
    answered = set(ledger.answered) | set(replies)
    assert set(sent) == answered | set(dead), sorted(set(sent) - answered - set(dead))[:10]
    assert not answered & set(dead), sorted(answered & set(dead))[:10]

    # None twice: one stored turn per message, one MQTT reply per message.
    assert max(replies.values()) == 1, [k for k, v in replies.items() if v > 1]
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    stored: dict[str, list[str]] = {}
    device_conversations: dict[str, set[str]] = {}
    for page in ddb.get_paginator("scan").paginate(TableName=faulty["tables"]["StateTable"]):
        for item in page["Items"]:
            if not item["sk"]["S"].startswith("T#0"):
                continue  # an owner's pointer and index items, a superseded marker: not turns
            owner, conversation = item["pk"]["S"][len("C#") :].rsplit("#", 1)
            # Devices name no conversation: their turns go to the thing's current one (per_user), keyed here by
            # the thing as the ledger keys them; HTTP and WebSocket clients name theirs.
            key = owner[len("thing:") :] if owner.startswith("thing:") else conversation
            if owner.startswith("thing:"):
                device_conversations.setdefault(key, set()).add(conversation)
            stored.setdefault(key, []).append((item["sk"]["S"], item["message_id"]["S"]))
    # Under faults too, each device's messages all went to one conversation (its current one).
    assert all(len(c) == 1 for c in device_conversations.values()), device_conversations
    all_stored = Counter(m for turns in stored.values() for _sk, m in turns)
    assert max(all_stored.values()) == 1, [k for k, v in all_stored.items() if v > 1]
    assert answered <= set(all_stored)

    # In order: each conversation's stored turns are its client's messages in the order it sent them.
    for conversation, ids in ledger.sent.items():
        kept = [m for _sk, m in sorted(stored.get(conversation, []))]
        assert kept == [m for m in ids if m in set(kept)], (conversation, kept, ids)

    # WebSocket: one reply frame per message, two identical ones at most for a message sent twice.
    frames = [json.loads(d) for _c, d in recorder.posts]
    ws_replies = Counter(f["message_id"] for f in frames if f["type"] == "reply")
    for message_id, n in ws_replies.items():
        assert n == 1 or (n == 2 and message_id in ledger.duplicated), (message_id, n)

    # The slow plugin timed out on its turns and they were answered with the plugin-error reply.
    assert any(
        r["replies"][0]["text"] == "The lookup is slow today." for r in ledger.answered.values() if "replies" in r
    )
