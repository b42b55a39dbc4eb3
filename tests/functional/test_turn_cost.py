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
        assert first.operations == WARM[channel] + FIRST_EXTRA, (channel, first.operations)
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
