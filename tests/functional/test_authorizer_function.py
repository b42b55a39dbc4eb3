"""The authorizer function with real JWTs (minted by joserfc) and a JWKS served on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt as jose_jwt

import authorizer
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context
from tests.helpers.tokens import Issuer


def http_event(token: str | None) -> dict[str, Any]:
    event = load_event("authorizer/http_request.json")
    if token is None:
        del event["headers"]["authorization"]
    else:
        event["headers"]["authorization"] = f"Bearer {token}"
    return event


def ws_event(token: str) -> dict[str, Any]:
    event = load_event("authorizer/websocket_connect.json")
    event["queryStringParameters"]["token"] = token
    return event


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = authorizer.handler(event, lambda_context("clawline-authorizer"))
    return result


def test_http_api_valid_token_is_authorized_with_its_subject(issuer: Issuer) -> None:
    token = issuer.token("alice", scope="chat admin")
    exp = jose_jwt.decode(token, issuer.key).claims["exp"]
    result = invoke(http_event(token))
    assert result == {"isAuthorized": True, "context": {"sub": "alice", "scope": "admin chat", "exp": str(exp)}}


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda i: i.token(exp=1), id="expired"),
        pytest.param(lambda i: i.token(iss="https://evil.example/"), id="wrong-issuer"),
        pytest.param(lambda i: i.token(aud="someone-else"), id="wrong-audience"),
        pytest.param(lambda i: i.token(exp=None), id="no-exp"),
        pytest.param(lambda i: Issuer().token(), id="signed-by-another-key"),
        pytest.param(lambda i: i.token() + "x", id="tampered-signature"),
        pytest.param(lambda i: "not-a-jwt", id="garbage"),
    ],
)
def test_http_api_token_that_fails_verification_is_denied(issuer: Issuer, make_token: Any) -> None:
    assert invoke(http_event(make_token(issuer))) == {"isAuthorized": False}


def test_http_api_missing_token_is_denied(issuer: Issuer) -> None:
    assert invoke(http_event(None)) == {"isAuthorized": False}


def test_websocket_connect_with_valid_token_gets_an_allow_policy_for_the_route(issuer: Issuer) -> None:
    event = ws_event(issuer.token("bob"))
    result = invoke(event)
    assert result["principalId"] == "bob"
    assert result["context"]["sub"] == "bob"
    (statement,) = result["policyDocument"]["Statement"]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}


def test_websocket_connect_with_a_bad_token_gets_a_deny_policy(issuer: Issuer) -> None:
    event = ws_event(issuer.token(exp=1))
    result = invoke(event)
    (statement,) = result["policyDocument"]["Statement"]
    assert statement == {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": event["methodArn"]}
    assert "context" not in result


def test_jwks_is_fetched_once_across_warm_invocations(issuer: Issuer) -> None:
    for _ in range(20):
        assert invoke(http_event(issuer.token()))["isAuthorized"] is True
    assert issuer.jwks_fetches == 1


COLD_START = """
import json, sys
from tests.helpers.lambda_context import lambda_context
import authorizer
event = json.loads(sys.argv[1])
result = authorizer.handler(event, lambda_context("clawline-authorizer"))
heavy = ("clawline.composition", "clawline.engine", "clawline.nlu.features", "numpy", "fastapi")
heavy = [m for m in heavy if m in sys.modules]
print(json.dumps({"result": result, "heavy": heavy}))
"""


def test_a_cold_authorizer_verifies_a_token_without_loading_the_engine(issuer: Issuer) -> None:
    # Its own process: this test session has long since imported the engine.
    root = Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k.startswith("CLAWLINE_") or k in {"PATH", "HOME"}}
    env["PYTHONPATH"] = os.pathsep.join(str(root / p) for p in (".", "functions/authorizer", "layers/engine"))
    env.update(AWS_DEFAULT_REGION="us-east-1", POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_NAMESPACE="Test")
    event = json.dumps(http_event(issuer.token("carol")))
    run = subprocess.run(
        [sys.executable, "-c", COLD_START, event], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert report["result"]["isAuthorized"] is True
    assert {k: v for k, v in report["result"]["context"].items() if k != "exp"} == {"sub": "carol", "scope": ""}
    assert report["heavy"] == []
