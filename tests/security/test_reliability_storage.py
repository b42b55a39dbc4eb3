"""R5, R13, R14, R15: DynamoDB retries, connection expiry, optimistic locking, and conditions over client tokens."""

from __future__ import annotations

import inspect
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.retries import standard
from freezegun import freeze_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawline import aws, composition
from clawline.channels.connections import DynamoDBConnectionStore
from clawline.conversation import ConversationState, Turn
from clawline.errors import ConflictError, RetryableError
from clawline.messages import Channel
from clawline.store.dynamodb import DynamoDBConversationStore
from tests.functional.conftest import Stack
from tests.security.conftest import invoke_ws, ws_connect

ROOT = Path(__file__).resolve().parents[2]


class ThrottlingDynamoDB:
    """A loopback DynamoDB that answers 400 ProvisionedThroughputExceededException ``k`` times, then an empty item."""

    def __init__(self, throttle_first: int) -> None:
        self.throttle_first = throttle_first
        self.requests = 0

    def serve(self) -> Iterator[str]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                return

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                fake.requests += 1
                if fake.requests <= fake.throttle_first:
                    status = 400
                    body = {
                        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                        "message": "throughput exceeded",
                    }
                else:
                    status, body = 200, {}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/x-amz-json-1.0")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()


@pytest.fixture
def backoff_delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff botocore computes before each retry; recorded, then shortened so the test stays fast."""
    delays: list[float] = []
    original = standard.ExponentialBackoff.delay_amount

    def recording(self: Any, context: Any) -> float:
        delays.append(original(self, context))
        return 0.001

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", recording)
    return delays


@pytest.mark.parametrize(("max_attempts", "throttled"), [(4, 0), (4, 2), (4, 3), (3, 3), (2, 5)])
def test_r05_dynamodb_throttling_is_retried_with_backoff_then_surfaces_as_retryable(
    max_attempts: int, throttled: int, backoff_delays: list[float]
) -> None:
    fake = ThrottlingDynamoDB(throttled)
    serving = fake.serve()
    endpoint = next(serving)
    try:
        client = aws.client("dynamodb", max_attempts=max_attempts, endpoint_url=endpoint)
        config = client.meta.config
        assert config.retries == {"mode": "standard", "total_max_attempts": max_attempts}
        assert config.connect_timeout <= 5 and config.read_timeout <= 10
        store = DynamoDBConversationStore(client, "state")
        if throttled < max_attempts:
            state = store.load("c1", "u1")
            assert state.version == 0
            assert fake.requests == throttled + 1
        else:
            with pytest.raises(RetryableError) as caught:
                store.load("c1", "u1")
            assert caught.value.details["code"] == "ProvisionedThroughputExceededException"
            assert fake.requests == max_attempts
        assert len(backoff_delays) == min(throttled, max_attempts - 1)
        # Standard mode: jittered exponential backoff, each delay within [0, 2**attempt) seconds.
        assert all(0 <= d < 2 ** (i + 1) for i, d in enumerate(backoff_delays))
    finally:
        aws.client.cache_clear()
        next(serving, None)


def test_r05_the_functions_dynamodb_client_uses_standard_retries_from_settings(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAWLINE_DYNAMODB_MAX_ATTEMPTS", "6")
    composition.reset()
    assert composition.dynamodb().meta.config.retries == {"mode": "standard", "total_max_attempts": 6}


def test_r13_connection_items_expire_after_the_two_hour_limit_and_disconnect_deletes(stack: Stack) -> None:
    store = DynamoDBConnectionStore(stack.dynamodb(), stack.tables["ConnectionsTable"])
    with freeze_time("2026-11-27 04:00:00"):
        conn = store.add("conn-r13", "alice")
        connected_at = int(datetime(2026, 11, 27, 4, tzinfo=UTC).timestamp())
        assert conn.connected_at == connected_at
        item = stack.dynamodb().get_item(
            TableName=stack.tables["ConnectionsTable"], Key={"connection_id": {"S": "conn-r13"}}
        )["Item"]
        ttl = int(item["expires_at"]["N"])
        # API Gateway closes a connection after 2 h; the item outlives it by a small slack, never by hours.
        assert connected_at + 7200 < ttl <= connected_at + 7200 + 900
        assert store.get("conn-r13") is not None
    with freeze_time(datetime.fromtimestamp(ttl + 1, UTC)):
        # DynamoDB deletes expired items lazily: an expired record must already count as gone.
        assert store.get("conn-r13") is None

    store.add("conn-r13b", "alice")
    event = ws_connect("conn-r13b", "alice")
    event["requestContext"]["routeKey"] = "$disconnect"
    event["requestContext"]["eventType"] = "DISCONNECT"
    assert invoke_ws(event) == {"statusCode": 200}
    assert (
        stack.dynamodb()
        .get_item(TableName=stack.tables["ConnectionsTable"], Key={"connection_id": {"S": "conn-r13b"}})
        .get("Item")
        is None
    )


def _turn(message_id: str, text: str) -> Turn:
    return Turn(seq=0, message_id=message_id, channel=Channel.TEST, user_text=text, bot_texts=[f"re: {text}"])


def test_r14_two_writers_with_the_same_expected_version_cannot_both_win(stack: Stack) -> None:
    store = DynamoDBConversationStore(stack.dynamodb(), stack.tables["StateTable"])
    store.save(ConversationState(conversation_id="c14", owner="u1"), _turn("m0", "start"))
    a = store.load("c14", "u1")
    b = store.load("c14", "u1")
    assert a.version == b.version == 1
    a.slots["size"] = "large"
    b.slots["size"] = "small"

    store.save(a, _turn("m1", "large please"))
    with pytest.raises(ConflictError):
        store.save(b, _turn("m2", "small please"))

    final = store.load("c14", "u1", window=10)
    assert final.version == 2
    assert final.slots["size"] == "large"
    assert [t.message_id for t in final.recent_turns] == ["m0", "m1"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from("ab"), min_size=1, max_size=8))
def test_r14_any_interleaving_of_racing_writers_loses_no_update(stack: Stack, schedule: list[str]) -> None:
    """Two writers repeatedly load-then-save; whoever saves on a stale version must lose, never overwrite."""
    store = DynamoDBConversationStore(stack.dynamodb(), stack.tables["StateTable"])
    conversation = f"race-{abs(hash(tuple(schedule))) % 10**9}-{len(schedule)}"
    store.delete(conversation, "u1")
    held: dict[str, ConversationState] = {}
    committed: list[str] = []  # the model: increments that won, in order
    for step, writer in enumerate(schedule):
        if writer not in held:
            held[writer] = store.load(conversation, "u1")
            continue
        state = held.pop(writer)
        state.slots[f"w{step}"] = writer
        expected_winner = state.version == len(committed)
        try:
            store.save(state, _turn(f"m{step}", writer))
        except ConflictError:
            assert not expected_winner
        else:
            assert expected_winner
            committed.append(f"w{step}")
    final = store.load(conversation, "u1")
    assert final.version == len(committed)
    assert sorted(final.slots) == sorted(committed)


def test_r15_every_write_of_a_turn_carries_a_condition_and_no_client_token(stack: Stack) -> None:
    client = stack.dynamodb()
    seen: list[dict[str, Any]] = []
    client.meta.events.register("provide-client-params.dynamodb.PutItem", lambda params, **_: seen.append(params))
    client.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems", lambda params, **_: seen.append(params)
    )
    store = DynamoDBConversationStore(client, stack.tables["StateTable"])
    saved = store.save(ConversationState(conversation_id="c15", owner="u1"), _turn("m1", "hi"))
    store.save(saved, _turn("m2", "again"))

    assert len(seen) == 2  # one write per turn
    for params in seen:
        assert params.get("ConditionExpression"), params
    # Replaying the very same request (as a retry whose first attempt was applied would) must be refused by its
    # condition, not applied twice.
    with pytest.raises(client.exceptions.ConditionalCheckFailedException):
        client.put_item(**seen[1])
    assert store.load("c15", "u1").version == 2
    # Review rule as a test: correctness never rests on ClientRequestToken anywhere in the engine.
    engine_sources = (ROOT / "layers" / "engine" / "clawline").rglob("*.py")
    assert not [p for p in engine_sources if "ClientRequestToken" in p.read_text(encoding="utf-8")]
    assert "attribute_not_exists" in inspect.getsource(DynamoDBConversationStore.save)
