"""What a turn asks of AWS, per channel, counted (not timed): a change that adds a round trip fails here.

The handlers run in process against moto's server with the template's defaults (KMS field encryption, the
per-user rate limit); ``bench.meter`` records every botocore request of the process and computes DynamoDB's
units from the items by its documented size rules. ``python -m bench cost`` reports the same figures with
their price (BENCHMARKS.md).
"""

from __future__ import annotations

from collections import Counter

import pytest

from bench import cost
from bench import meter as metering
from clawline import composition
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
