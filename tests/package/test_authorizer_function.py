"""The built authorizer in the emulator, with RS256 tokens minted by joserfc and a JWKS served on loopback."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.events import load_event
from tests.package.conftest import Functions, Issuer, Sample, explain, with_token

pytestmark = pytest.mark.package


def test_http_request_with_a_valid_token_is_authorized_as_its_subject(functions: Functions, sample: Sample) -> None:
    invocation = functions["AuthorizerFunction"].invoke(sample("authorizer/http_request.json"))
    assert not invocation.function_error, explain(invocation)
    assert invocation.payload["isAuthorized"] is True
    assert invocation.payload["context"]["sub"] == "user-123"


@pytest.mark.parametrize(
    ("claims", "why"),
    [({"audience": "someone-else"}, "wrong audience"), ({"lifetime": -120}, "expired")],
)
def test_http_request_with_a_bad_token_is_refused(
    functions: Functions, issuer: Issuer, claims: dict[str, Any], why: str
) -> None:
    event = with_token(load_event("authorizer/http_request.json"), issuer.token(**claims))
    invocation = functions["AuthorizerFunction"].invoke(event)
    assert not invocation.function_error, explain(invocation)
    assert invocation.payload == {"isAuthorized": False}, why


def test_websocket_connect_with_a_valid_token_gets_an_allow_policy(functions: Functions, sample: Sample) -> None:
    event = sample("authorizer/websocket_connect.json")
    invocation = functions["AuthorizerFunction"].invoke(event)
    assert not invocation.function_error, explain(invocation)
    policy = invocation.payload
    assert policy["principalId"] == "user-123"
    (statement,) = policy["policyDocument"]["Statement"]
    assert (statement["Effect"], statement["Resource"]) == ("Allow", event["methodArn"])


def test_websocket_connect_with_a_forged_token_gets_a_deny_policy(functions: Functions) -> None:
    forged = Issuer.forged()
    event = with_token(load_event("authorizer/websocket_connect.json"), forged)
    invocation = functions["AuthorizerFunction"].invoke(event)
    # A Deny policy (API Gateway answers 403), not a Lambda error: probes must not trip the error alarm.
    assert not invocation.function_error, explain(invocation)
    (statement,) = invocation.payload["policyDocument"]["Statement"]
    assert (statement["Effect"], statement["Resource"]) == ("Deny", event["methodArn"])
