"""S21-S23: what API Gateway's authorizer cache cannot be trusted with, and how the authorizer fails.

- S21: the token comes from the API's identity source alone (the ``Authorization`` header on the HTTP API, the
  ``token`` query parameter on the WebSocket API), since the cached answer is keyed by that source and nothing
  else. A token anywhere else is ignored.
- S22: an allow outlives its token only until the function looks: the authorizer context carries ``exp``, and
  the HTTP function and ``$connect`` refuse it once expired (plus the leeway), however long the cache keeps it.
- S23: a denial is an answer (``isAuthorized: false``, a Deny policy), never a Lambda error; an authorizer that
  cannot verify anybody (no key or secret configured) logs at ERROR, counts ``Errors`` and fails.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from freezegun import freeze_time

from clawline import composition
from clawline.observability import MetricName
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context
from tests.helpers.tokens import Issuer
from tests.security.conftest import LogCapture, emf_metrics, invoke_http, invoke_ws, ws_connect


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    import authorizer

    result: dict[str, Any] = authorizer.handler(event, lambda_context("clawline-authorizer"))
    return result


def http_authorizer_event(headers: dict[str, str], query: dict[str, str] | None = None) -> dict[str, Any]:
    event = load_event("authorizer/http_request.json")
    event["headers"] = {"host": event["headers"]["host"], **headers}
    event["identitySource"] = [headers["authorization"]] if "authorization" in headers else []
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    return event


def ws_authorizer_event(headers: dict[str, str], query: dict[str, str]) -> dict[str, Any]:
    event = load_event("authorizer/websocket_connect.json")
    event["headers"].update(headers)
    event["queryStringParameters"] = query
    return event


def http_turn_with(context: dict[str, str]) -> int:
    event = load_event("http/post_message.json")
    event["requestContext"]["authorizer"] = {"lambda": context}
    status, _body, _headers = invoke_http(event)
    return status


def test_s21_http_authorizer_ignores_a_token_outside_the_authorization_header(issuer: Issuer) -> None:
    token = issuer.token("alice")
    # The reported attack: a header that is not a Bearer token (the cache key) and the real token in the query.
    assert authorize(http_authorizer_event({"authorization": "undefined"}, {"token": token})) == {"isAuthorized": False}
    assert authorize(http_authorizer_event({"authorization": "Basic dW5kZWZpbmVk", "x-token": token})) == {
        "isAuthorized": False
    }
    # The same token in the identity source is accepted: the refusals above are about where it was.
    assert authorize(http_authorizer_event({"authorization": f"Bearer {token}"}))["isAuthorized"] is True


def test_s21_websocket_authorizer_ignores_a_token_outside_the_token_query_parameter(issuer: Issuer) -> None:
    token = issuer.token("alice")
    denied = authorize(ws_authorizer_event({"Authorization": f"Bearer {token}"}, {"token": "undefined"}))
    assert [s["Effect"] for s in denied["policyDocument"]["Statement"]] == ["Deny"]
    assert "context" not in denied
    allowed = authorize(ws_authorizer_event({}, {"token": token}))
    assert allowed["principalId"] == "alice"
    assert [s["Effect"] for s in allowed["policyDocument"]["Statement"]] == ["Allow"]


def cached_context(issuer: Issuer, sub: str, event: Any, *, seconds_ago: int) -> dict[str, str]:
    """The context the authorizer gave ``seconds_ago`` for a token then valid for 60 s: what the cache still serves.

    ``authorize`` without the handler's decorators: freezegun leaves Powertools' frames on the real clock.
    """
    import authorizer

    then = int(time.time()) - seconds_ago
    token = issuer.token(sub, iat=then, exp=then + 60)
    if "version" in event:
        event["headers"]["authorization"] = f"Bearer {token}"
    else:
        event["queryStringParameters"] = {"token": token}
    with freeze_time(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(then))):
        result = authorizer.authorize(event)
    context: dict[str, str] = result["context"]
    assert context["exp"] == str(then + 60)
    return context


def test_s22_http_allow_cached_past_the_tokens_expiry_is_refused_by_the_function(stack: Stack, issuer: Issuer) -> None:
    # API Gateway serves an allow for 300 s; 60 s of token life and 30 s of leeway are over 120 s later.
    expired = cached_context(issuer, "alice", http_authorizer_event({}), seconds_ago=120)
    before = stack.count_items("StateTable")
    assert http_turn_with(expired) == 401
    assert stack.count_items("StateTable") == before
    assert http_turn_with(cached_context(issuer, "alice", http_authorizer_event({}), seconds_ago=0)) == 200


def test_s22_websocket_connect_with_an_allow_cached_past_expiry_is_refused(stack: Stack, issuer: Issuer) -> None:
    for seconds_ago, status in ((120, 401), (0, 200)):
        context = cached_context(issuer, "bob", ws_authorizer_event({}, {}), seconds_ago=seconds_ago)
        connect = ws_connect(f"conn-{seconds_ago}", "bob")
        connect["requestContext"]["authorizer"] = {"principalId": "bob", **context}
        assert invoke_ws(connect)["statusCode"] == status
        assert stack.count_items("ConnectionsTable") == (status == 200)


def test_s23_a_websocket_denial_is_a_deny_policy_not_a_lambda_error(issuer: Issuer) -> None:
    for query in ({"token": issuer.token(exp=1)}, {"token": "not-a-jwt"}, {}):
        event = ws_authorizer_event({}, query)
        result = authorize(event)  # raising here would be a Lambda error: alarms, and no 403 for the client
        (statement,) = result["policyDocument"]["Statement"]
        assert statement == {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": event["methodArn"]}


@pytest.mark.parametrize("api", ["http", "websocket"])
def test_s23_an_unconfigured_authorizer_logs_an_error_and_counts_errors_not_failed_logins(
    api: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], logs: LogCapture
) -> None:
    # The template's defaults before Rules existed: no JWKS URL and no secret.
    monkeypatch.setenv("CLAWLINE_JWT_ISSUER", "https://issuer.example.com/")
    monkeypatch.setenv("CLAWLINE_JWT_AUDIENCE", "clawline")
    monkeypatch.setenv("CLAWLINE_JWKS_URL", "")
    monkeypatch.setenv("CLAWLINE_JWT_SECRET_NAME", "")
    monkeypatch.setenv("CLAWLINE_JWT_ALGORITHMS", "RS256")
    composition.reset()
    token = Issuer().token("alice")
    if api == "http":
        event = http_authorizer_event({"authorization": f"Bearer {token}"})
    else:
        event = ws_authorizer_event({}, {"token": token})
    try:
        with pytest.raises(Exception, match="JWKS URL"):
            authorize(event)
    finally:
        composition.reset()
    metrics = emf_metrics(capsys.readouterr().out)
    assert MetricName.ERRORS.value in metrics
    assert MetricName.AUTH_FAILURES.value not in metrics
    errors = [json.loads(line) for line in logs.lines() if '"level":"ERROR"' in line.replace(" ", "")]
    assert any(line.get("error") == "configuration_error" for line in errors), logs.text()
