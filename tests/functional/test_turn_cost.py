"""What a turn asks of AWS, per channel, counted (not timed): a change that adds a round trip fails here.

The handlers run in process against moto's server with the template's defaults (KMS field encryption, the
per-user rate limit); ``bench.meter`` records every botocore request of the process and computes DynamoDB's
units from the items by its documented size rules. ``python -m bench cost`` reports the same figures with
their price (BENCHMARKS.md).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable

import pytest

from bench import cost
from bench import meter as metering
from clawline import composition, observability
from tests.functional.conftest import Stack
from tests.helpers.aws import client

#: A warm turn of an existing conversation: one read and one write, plus the channel's way of answering.
WARM = {
    "http": Counter({"dynamodb.Query": 1, "dynamodb.PutItem": 1}),
    "websocket": Counter({"dynamodb.Query": 1, "dynamodb.PutItem": 1, "apigatewaymanagementapi.PostToConnection": 1}),
    "mqtt": Counter({"dynamodb.Query": 1, "dynamodb.PutItem": 1, "iot-data.Publish": 1}),
}
#: The first turn of a conversation also creates its data key and leases rate-limit tokens for the principal.
FIRST_EXTRA = Counter({"kms.GenerateDataKey": 1, "dynamodb.UpdateItem": 1})
#: ... and starts the conversation (docs/storage.md): it reads the owner's pointer and profile (one Query), makes
#: it the owner's current one and indexes it (two PutItems). HTTP and WebSocket name their conversation here.
STARTED = Counter({"dynamodb.Query": 1, "dynamodb.PutItem": 2})
#: The MQTT turns name none: the owner is unknown to the container, so the pointer read *is* the turn's read
#: (there is no conversation yet to query), and the thing's pairing is read once (GetItem, then cached).
STARTED_IDLESS = Counter({"dynamodb.PutItem": 2, "dynamodb.GetItem": 1})
FIRST = {
    "http": WARM["http"] + FIRST_EXTRA + STARTED,
    "websocket": WARM["websocket"] + FIRST_EXTRA + STARTED,
    "mqtt": WARM["mqtt"] + FIRST_EXTRA + STARTED_IDLESS,
}
#: CloudWatch Logs bills every byte of a turn's one log event (its EMF document, ~310 bytes today); a change that
#: grows it by more than a few fields fails here (docs/storage.md prices a byte per million turns).
MAX_TURN_LOG_BYTES = 400


@pytest.fixture
def deployed_defaults(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    """The template's defaults: KMS field encryption and the per-user limit of 20 messages at 1/s."""
    key_arn = client("kms", stack.endpoint).create_key(Description="turn cost")["KeyMetadata"]["Arn"]
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", stack.endpoint)
    monkeypatch.setenv("CLAWLINE_ENCRYPTION", "kms")
    monkeypatch.setenv("CLAWLINE_KMS_KEY_ARN", key_arn)
    monkeypatch.setenv("CLAWLINE_RATE_LIMIT_CAPACITY", "20")
    monkeypatch.setenv("CLAWLINE_RATE_LIMIT_PER_SECOND", "1")
    return stack


def test_a_warm_turn_is_one_dynamodb_read_and_one_write_on_every_channel(deployed_defaults: Stack) -> None:
    results = cost.run(10, logs=False, recorder=deployed_defaults.recorder)
    for channel, turns in results.items():
        assert all(t.reply_ok for t in turns), channel
        first, tenth = turns[0], turns[9]
        assert first.operations == FIRST[channel], (channel, first.operations)
        assert tenth.operations == WARM[channel], (channel, tenth.operations)
        # Units by DynamoDB's size rules: a turn item of short messages is under 1 KB, and the window of 10
        # such items is read eventually consistently in at most 1 read unit.
        assert tenth.write_units == 1, (channel, tenth.write_units, tenth.item_bytes)
        assert tenth.read_units <= 1, (channel, tenth.read_units)
        assert tenth.kms_calls == 0
        # The rate limiter leased once for all ten turns: most turns make no rate-limit request at all.
        assert sum(t.operations["dynamodb.UpdateItem"] for t in turns) == 1, channel


def test_a_cold_container_pays_one_kms_call_for_a_conversation_not_one_per_stored_turn(
    deployed_defaults: Stack,
) -> None:
    invoke = cost.mqtt_invoker("cold-device")
    for i in range(1, 8):
        assert invoke(i, f"hi {i}")
    assert cost.cold_decrypts(invoke, 8) == 1


def _operations(invoke: object, i: int, text: str = "hi") -> Counter[str]:
    with metering.metering() as meter:
        mark = meter.mark()
        assert invoke(i, text)  # type: ignore[operator]
        return metering.operations(meter.since(mark))


def test_a_turn_without_a_conversation_id_continues_the_users_conversation_at_the_same_cost(
    deployed_defaults: Stack,
) -> None:
    """per_user: HTTP then WebSocket without a conversation id, both in the user's one conversation."""
    http = cost.http_invoker("ida", "ida-http", named=False)
    ws = cost.websocket_invoker("ida", "ida-ws", deployed_defaults.recorder, named=False)
    assert http(1, "hi")  # starts the conversation: the pointer is read and written once
    assert _operations(http, 2) == WARM["http"]
    assert _operations(ws, 3) == WARM["websocket"]
    owner = "user:ida"
    current = composition.engine().router.current.get(owner)
    assert current is not None
    turns = composition.conversation_store().list_turns(current, owner).turns
    assert [t.channel.value for t in reversed(turns)] == ["http", "http", "websocket"]


def test_a_container_that_remembers_a_superseded_conversation_follows_its_marker_once(
    deployed_defaults: Stack,
) -> None:
    http = cost.http_invoker("jo", "jo-a", named=False)
    assert http(1, "hi")
    owner = "user:jo"
    router = composition.engine().router
    first = router.current.get(owner)
    # Another channel starts a new conversation by naming it; this container still remembers the first one.
    assert cost.http_invoker("jo", "jo-b")(1, "hi")
    router.current.put(owner, str(first))
    # The turn's Query of the remembered conversation returns the marker; the new one is queried: one more read.
    assert _operations(http, 2) == WARM["http"] + Counter({"dynamodb.Query": 1})
    assert router.current.get(owner) == "jo-b"
    assert _operations(http, 3) == WARM["http"]
    assert [t.message_id for t in composition.conversation_store().list_turns("jo-b", owner).turns] == [
        "jo-a-3",
        "jo-a-2",
        "jo-b-1",
    ]


def test_a_warm_turn_writes_one_log_event_its_emf_document_on_every_channel(
    deployed_defaults: Stack, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """At the template's INFO level a warm turn logs nothing but its metrics document, which also carries what
    the dashboard's Logs Insights widgets read (the intent), so CloudWatch ingests one event per turn."""
    invokers = {
        "http": cost.http_invoker("log-user", "log-http"),
        "websocket": cost.websocket_invoker("log-ws-user", "log-ws", deployed_defaults.recorder),
        "mqtt": cost.mqtt_invoker("log-device"),
    }
    # Lambda's runtime sets the root logger to the application level (INFO) under the JSON log format, before the
    # handler's modules load and apply their own logging setup.
    root = logging.getLogger()
    saved = root.level
    root.setLevel(logging.INFO)
    observability.quiet_library_info_logs()
    try:
        lines_by_channel = {channel: _one_turn_output(invoke, capsys, caplog) for channel, invoke in invokers.items()}
    finally:
        root.setLevel(saved)
    for channel, (lines, records) in lines_by_channel.items():
        assert records == [], (channel, [r.getMessage() for r in records])
        assert len(lines) == 1, (channel, lines)
        document = json.loads(lines[0])
        assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Clawline"
        assert document["Turns"] == [1.0] and document["intent"] == "greet", (channel, document)
        assert len(lines[0].encode()) + 1 <= MAX_TURN_LOG_BYTES, (channel, len(lines[0]))


def _one_turn_output(
    invoke: Callable[[int, str], bool], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> tuple[list[str], list[logging.LogRecord]]:
    """What the second turn of a conversation writes: stdout lines (EMF) and log records at INFO and above."""
    assert invoke(1, "hi")  # the conversation's first turn: the data key and the rate-limit lease
    capsys.readouterr()
    caplog.clear()
    assert invoke(2, "hi")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    # werkzeug is moto's server, running in this process for the test (DynamoDB's side of the wire, not the function's).
    return lines, [r for r in caplog.records if r.levelno >= logging.INFO and r.name != "werkzeug"]
