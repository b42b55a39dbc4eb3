"""S7, S8, S10, S17, S18: whose data a caller reaches, what fields it may set, how much it may send, and where its
identity comes from on each channel.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawline import composition
from clawline.messages import DEFAULT_MAX_TEXT_BYTES
from local.template import ROOT
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.tokens import Issuer
from tests.security.conftest import (
    bearer,
    emf_metrics,
    invoke_mqtt,
    invoke_ws,
    mqtt_event,
    ws_connect,
    ws_message,
)


def owners(stack: Stack) -> set[str]:
    """The owner keys (``user:{sub}``, ``thing:{name}``) that have conversations stored."""
    items = stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"]
    return {i["pk"]["S"].split("#")[1] for i in items if i["pk"]["S"].startswith("C#")}


def test_s07_user_b_cannot_read_write_or_delete_user_a_conversation(
    http: TestClient, issuer: Issuer, stack: Stack
) -> None:
    alice, bob = bearer(issuer.token("alice")), bearer(issuer.token("bob"))
    sent = http.post(
        "/v1/messages", json={"text": "my address is 1 Main St", "conversation_id": "a-private"}, headers=alice
    )
    assert sent.status_code == 200
    assert http.get("/v1/conversations/a-private/messages", headers=alice).status_code == 200

    read = http.get("/v1/conversations/a-private/messages", headers=bob)
    assert read.status_code == 404  # not 403: B must not even learn that the conversation exists
    assert read.json() == {"error": "not_found", "message": "no such conversation"}
    assert http.delete("/v1/conversations/a-private", headers=bob).status_code == 404
    # B "writing" to A's conversation id creates B's own conversation; A's is untouched.
    assert (
        http.post("/v1/messages", json={"text": "hi", "conversation_id": "a-private"}, headers=bob).status_code == 200
    )
    history = http.get("/v1/conversations/a-private/messages", headers=alice).json()
    assert [m["user_text"] for m in history["messages"]] == ["my address is 1 Main St"]
    assert owners(stack) == {"user:alice", "user:bob"}


@pytest.mark.parametrize("field", ["sender", "user_id", "owner", "principal", "sub"])
def test_s07_websocket_message_with_a_forged_identity_does_not_act_as_anyone_else(
    stack: Stack, engine_calls: list[str], field: str
) -> None:
    invoke_ws(ws_connect("conn-s07", "alice"))
    invoke_ws(ws_message("conn-s07", {"text": "hello", "message_id": "s07", field: "bob"}))
    (frame,) = stack.recorder.frames("conn-s07")
    assert frame["type"] == "error" and frame["error"] == "invalid_input"
    assert engine_calls == []
    assert "user:bob" not in owners(stack)


def test_s07_websocket_turns_are_stored_under_the_connection_principal(stack: Stack) -> None:
    invoke_ws(ws_connect("conn-s07b", "alice"))
    invoke_ws(ws_message("conn-s07b", {"text": "hello", "message_id": "s07b", "conversation_id": "shared-name"}))
    (frame,) = stack.recorder.frames("conn-s07b")
    assert frame["type"] == "reply"
    assert owners(stack) == {"user:alice"}


def test_s08_unknown_fields_are_refused_and_responses_carry_only_model_fields(
    http: TestClient, issuer: Issuer, stack: Stack
) -> None:
    token = bearer(issuer.token("alice"))
    for extra in ({"role": "admin"}, {"sender": "bob"}, {"is_admin": True}):
        response = http.post("/v1/messages", json={"text": "hi", **extra}, headers=token)
        assert response.status_code == 422, extra
        assert response.json()["error"] == "invalid_input"
    assert stack.count_items("StateTable") == 0

    ok = http.post("/v1/messages", json={"text": "hi", "conversation_id": "c8"}, headers=token)
    assert ok.status_code == 200
    assert set(ok.json()) == {"conversation_id", "message_id", "replies", "actions", "intent", "confidence"}
    history = http.get("/v1/conversations/c8/messages", headers=token).json()
    assert set(history) == {"conversation_id", "messages", "next_cursor"}
    assert set(history["messages"][0]) == {
        "seq",
        "message_id",
        "channel",
        "user_text",
        "bot_texts",
        "intent",
        "created_at",
    }


@pytest.fixture
def rate_limited(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setenv("CLAWLINE_RATE_LIMIT_TABLE", stack.tables["RateLimitTable"])
    monkeypatch.setenv("CLAWLINE_RATE_LIMIT_CAPACITY", "3")
    monkeypatch.setenv("CLAWLINE_RATE_LIMIT_PER_SECOND", "0.5")
    composition.reset()
    return stack


def test_s10_per_user_rate_limit_answers_429_with_retry_after_on_http(
    http: TestClient, issuer: Issuer, rate_limited: Stack
) -> None:
    alice, bob = bearer(issuer.token("alice")), bearer(issuer.token("bob"))
    statuses = [http.post("/v1/messages", json={"text": f"hi {i}"}, headers=alice).status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = http.post("/v1/messages", json={"text": "again"}, headers=alice)
    assert limited.status_code == 429
    assert limited.json()["error"] == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 2
    # Another principal has its own bucket.
    assert http.post("/v1/messages", json={"text": "hi"}, headers=bob).status_code == 200
    bucket = rate_limited.dynamodb().get_item(
        TableName=rate_limited.tables["RateLimitTable"], Key={"pk": {"S": "default#user:alice"}}, ConsistentRead=True
    )["Item"]
    # The shared bucket (GCRA: tat_ms is when it is full again) has less than one token left: with capacity 3 at
    # 0.5/s, a token is 2,000 ms and the burst 6,000 ms.
    free_tokens = (time.time() * 1000 + 6000 - int(bucket["tat_ms"]["N"])) / 2000
    assert free_tokens < 1


def test_s10_rate_limited_websocket_message_gets_an_error_frame(rate_limited: Stack, engine_calls: list[str]) -> None:
    invoke_ws(ws_connect("conn-s10", "alice"))
    for i in range(4):
        invoke_ws(ws_message("conn-s10", {"text": "hi", "message_id": f"s10-{i}"}))
    frames = rate_limited.recorder.frames("conn-s10")
    assert [f["type"] for f in frames] == ["reply", "reply", "reply", "error"]
    assert frames[-1]["error"] == "rate_limited"
    assert frames[-1]["details"]["retry_after_seconds"] >= 1
    assert engine_calls == ["s10-0", "s10-1", "s10-2"]


def test_s10_rate_limited_mqtt_message_is_dropped_and_counted(
    rate_limited: Stack, engine_calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    results = [invoke_mqtt(mqtt_event({"text": "hi", "message_id": f"s10m-{i}"}))["status"] for i in range(4)]
    assert results == ["replied", "replied", "replied", "dropped"]
    assert engine_calls == ["s10m-0", "s10m-1", "s10m-2"]
    assert "RateLimited" in emf_metrics(capsys.readouterr().out)
    assert not rate_limited.dead_letters()  # dropped: not retried, not dead-lettered
    assert len(rate_limited.recorder.published("clawline/kitchen-speaker-1/out")) == 3


def test_s10_rate_limits_are_configurable_per_bot(
    rate_limited: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bot's own ``settings.rate_limit`` in bot.yaml wins over the function-wide default (capacity 3 here)."""
    bot = tmp_path / "bot"
    shutil.copytree(ROOT / "bots" / "default", bot)
    definition = (bot / "bot.yaml").read_text(encoding="utf-8")
    limit = "  rate_limit: {capacity: 1, refill_per_second: 0.1}\n"
    definition = definition.replace("settings:\n", "settings:\n" + limit, 1)
    (bot / "bot.yaml").write_text(definition, encoding="utf-8")
    monkeypatch.setenv("CLAWLINE_BOT_PATH", str(bot))
    composition.reset()
    assert composition.engine().bot.settings.rate_limit is not None
    results = [invoke_mqtt(mqtt_event({"text": "hi", "message_id": f"bot-{i}"}))["status"] for i in range(2)]
    assert results == ["replied", "dropped"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=DEFAULT_MAX_TEXT_BYTES - 8, max_size=DEFAULT_MAX_TEXT_BYTES + 64))
def test_s10_message_size_cap_holds_for_any_text_near_the_limit(http: TestClient, issuer: Issuer, text: str) -> None:
    response = http.post("/v1/messages", json={"text": text}, headers=bearer(issuer.token("alice")))
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if not text.strip():
        assert response.status_code in (200, 422)
    elif size > DEFAULT_MAX_TEXT_BYTES:
        assert response.status_code == 413
    else:
        assert response.status_code in (200, 422)  # 422: lone surrogates are not valid UTF-8 text


def test_s10_history_loaded_per_turn_is_bounded_by_the_window(stack: Stack) -> None:
    client = stack.dynamodb()
    limits: list[Any] = []
    client.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: limits.append(params.get("Limit"))
    )
    store = composition.conversation_store()
    store._client = client
    for i in range(15):
        invoke_mqtt(mqtt_event({"text": f"hello {i}", "message_id": f"w-{i}"}))
    assert limits and all(limit is not None and limit <= composition.settings().conversation_window for limit in limits)


def test_s17_message_from_an_unknown_connection_is_rejected_without_a_turn(
    stack: Stack, engine_calls: list[str]
) -> None:
    invoke_ws(ws_message("never-connected", {"text": "hello", "message_id": "s17"}))
    (frame,) = stack.recorder.frames("never-connected")
    assert frame["type"] == "error" and frame["error"] == "forbidden"
    assert engine_calls == []
    assert stack.count_items("StateTable") == 0


def test_s17_connect_without_an_authorizer_principal_is_refused(stack: Stack) -> None:
    event = load_event("websocket/connect.json")
    event["requestContext"].pop("authorizer", None)
    assert invoke_ws(event) == {"statusCode": 401}
    assert stack.count_items("ConnectionsTable") == 0


def test_s18_iot_identity_claimed_in_the_payload_is_rejected_and_counted(
    stack: Stack, engine_calls: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    result = invoke_mqtt(load_event("mqtt/spoofed_identity.json"))
    assert result == {"status": "rejected", "error": "invalid_input"}
    assert engine_calls == []
    assert "RejectedInput" in emf_metrics(capsys.readouterr().out)
    (dead,) = stack.dead_letters()
    assert dead["error"] == "invalid_input"


def test_s18_iot_identity_comes_from_the_topic(stack: Stack) -> None:
    event = mqtt_event({"text": "hello", "message_id": "s18"}, thing="porch-light")
    assert invoke_mqtt(event)["status"] == "replied"
    assert owners(stack) == {"thing:porch-light"}
    assert stack.recorder.published("clawline/porch-light/out")
    assert not stack.recorder.published("clawline/kitchen-speaker-1/out")


def test_s18_the_rule_sql_takes_identity_from_topic_and_client_id(stack: Stack) -> None:
    from local.template import Template

    (rule,) = Template.read().of_type("AWS::IoT::TopicRule").values()
    sql = " ".join(rule["Properties"]["TopicRulePayload"]["Sql"].split())
    assert "topic(2) AS thing" in sql
    assert "clientid() AS client_id" in sql
    assert json.dumps(sql).count("payload") == 1  # the payload is carried, never read for identity
