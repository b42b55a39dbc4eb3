"""The authorizers' identity sources, read from the translated template, against the authorizer function itself.

API Gateway caches an authorizer's answer keyed by the identity sources the template declares (HTTP API) and
refuses a request missing one without calling the function (both APIs). The property that makes the cache safe:
the function reads the token from those sources and nowhere else. Each test puts junk in every declared source
and a valid token in every other place a client could put one; the answer must be a denial.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.functional.conftest import issuer  # noqa: F401 - the fixture, by name
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context
from tests.helpers.tokens import Issuer

pytestmark = pytest.mark.iac

JUNK = "undefined"


def http_identity_sources(resources: dict[str, dict[str, Any]]) -> list[str]:
    body = resources["HttpApi"]["Properties"]["Body"]
    schemes = body["components"]["securitySchemes"]
    (scheme,) = (s["x-amazon-apigateway-authorizer"] for s in schemes.values() if "x-amazon-apigateway-authorizer" in s)
    assert scheme["authorizerResultTtlInSeconds"] > 0  # cached: the reason this property matters
    sources: list[str] = scheme["identitySource"]
    return sources


def websocket_identity_sources(resources: dict[str, dict[str, Any]]) -> list[str]:
    (authorizer,) = (r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Authorizer")
    sources: list[str] = authorizer["Properties"].get("IdentitySource") or []
    return sources


def place(event: dict[str, Any], source: str, value: str) -> None:
    """Put ``value`` where an identity source expression points (``$request.header.X``, ``route.request...``)."""
    kind, _, name = source.removeprefix("$request.").removeprefix("route.request.").partition(".")
    if kind == "header":
        event.setdefault("headers", {})[name.lower()] = value
    elif kind == "querystring":
        event.setdefault("queryStringParameters", {})[name] = value
    else:
        raise AssertionError(f"an identity source this test does not know: {source}")


def everywhere_but(event: dict[str, Any], sources: list[str], token: str) -> None:
    """The token in every place a client could send it that is not one of ``sources``."""
    candidates = {
        "header.authorization": f"Bearer {token}",
        "header.x-auth-token": token,
        "header.cookie": f"token={token}",
        "querystring.token": token,
        "querystring.access_token": token,
    }
    declared = {s.removeprefix("$request.").removeprefix("route.request.").lower() for s in sources}
    for where, value in candidates.items():
        if where not in declared:
            kind, _, name = where.partition(".")
            place(event, f"route.request.{kind}.{name}", value)


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    import authorizer

    result: dict[str, Any] = authorizer.handler(event, lambda_context("clawline-authorizer"))
    return result


def test_the_http_authorizer_reads_the_token_only_from_its_cached_identity_sources(
    resources: dict[str, dict[str, Any]],
    issuer: Issuer,  # noqa: F811 - the fixture
) -> None:
    sources = http_identity_sources(resources)
    assert sources, "an HTTP API authorizer without identity sources is called (and cached) for every request"
    token = issuer.token("alice")
    event = load_event("authorizer/http_request.json")
    event["headers"] = {"host": event["headers"]["host"]}
    for source in sources:
        place(event, source, JUNK)
    everywhere_but(event, sources, token)
    event["identitySource"] = [JUNK for _ in sources]
    assert authorize(event) == {"isAuthorized": False}
    for source in sources:
        place(event, source, f"Bearer {token}")
    assert authorize(event)["isAuthorized"] is True


def test_the_websocket_authorizer_has_an_identity_source_and_reads_the_token_only_from_it(
    resources: dict[str, dict[str, Any]],
    issuer: Issuer,  # noqa: F811 - the fixture
) -> None:
    sources = websocket_identity_sources(resources)
    assert sources, "without an identity source every anonymous $connect invokes the authorizer"
    token = issuer.token("bob")
    event = load_event("authorizer/websocket_connect.json")
    event["headers"], event["queryStringParameters"] = {}, {}
    for source in sources:
        place(event, source, JUNK)
    everywhere_but(event, sources, token)
    denied = authorize(event)
    assert [s["Effect"] for s in denied["policyDocument"]["Statement"]] == ["Deny"]
    for source in sources:
        place(event, source, token if "querystring" in source else f"Bearer {token}")
    allowed = authorize(event)
    assert allowed["principalId"] == "bob"
    assert [s["Effect"] for s in allowed["policyDocument"]["Statement"]] == ["Allow"]
