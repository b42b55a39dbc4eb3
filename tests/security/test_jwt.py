"""S1-S6: attacks on the JWT verifier, through the HTTP app (no authorizer in front) and the $connect authorizer.

Tokens come from tests/helpers/tokens.py (joserfc, or assembled by hand where joserfc refuses to mint an attack).
"""

from __future__ import annotations

import json
import time
from importlib import metadata
from typing import Any

import pytest
from fastapi.testclient import TestClient
from freezegun import freeze_time
from joserfc import jwt as jose_jwt
from joserfc.jwk import RSAKey
from packaging.version import Version

from clawline import composition
from clawline.auth.jwt_verifier import MAX_LEEWAY_SECONDS, JwtVerifier
from clawline.errors import AuthenticationError, ClawlineError, ConfigurationError, RetryableError
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context
from tests.helpers.tokens import Issuer, hmac_token, unsigned_token
from tests.security.conftest import bearer, invoke_ws, ws_connect


def connect_with(token: str) -> Any:
    """What API Gateway does on $connect: run the authorizer; only if it allows, invoke $connect with its context.

    A Deny policy is "Denied" (API Gateway answers 403); an authorizer that fails is "Error: <code>" (500).
    """
    import authorizer

    event = load_event("authorizer/websocket_connect.json")
    event["queryStringParameters"]["token"] = token
    try:
        policy = authorizer.handler(event, lambda_context("clawline-authorizer"))
    except ClawlineError as exc:
        return f"Error: {exc.code}"
    if [s["Effect"] for s in policy["policyDocument"]["Statement"]] != ["Allow"]:
        return "Denied"
    connect = ws_connect("conn-jwt", policy["principalId"])
    connect["requestContext"]["authorizer"] = {"principalId": policy["principalId"], **policy["context"]}
    return invoke_ws(connect)


def post(http: TestClient, token: str) -> Any:
    return http.post("/v1/messages", json={"text": "hello"}, headers=bearer(token))


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_s01_alg_none_is_rejected(http: TestClient, issuer: Issuer, stack: Stack, alg: str) -> None:
    token = unsigned_token(issuer.claims("mallory"), alg=alg)
    response = post(http, token)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"
    assert connect_with(token) == "Denied"
    assert stack.count_items("ConnectionsTable") == 0
    assert stack.count_items("StateTable") == 0


def test_s01_a_valid_token_is_accepted_on_both_entries(http: TestClient, issuer: Issuer, stack: Stack) -> None:
    """The control for S1-S4: the same path with a good token succeeds, so the rejections above mean something."""
    assert post(http, issuer.token("alice")).status_code == 200
    assert connect_with(issuer.token("alice")) == {"statusCode": 200}
    assert stack.count_items("ConnectionsTable") == 1


def test_s02_hs256_signed_with_the_rsa_public_key_is_rejected(http: TestClient, issuer: Issuer) -> None:
    public_pem = issuer.key.as_pem(private=False)
    token = hmac_token(issuer.claims("mallory"), public_pem, alg="HS256")
    assert post(http, token).status_code == 401
    assert connect_with(token) == "Denied"


def test_s02_the_algorithm_allow_list_is_one_family_and_pyjwt_is_recent() -> None:
    assert Version(metadata.version("pyjwt")) >= Version("2.13")
    with pytest.raises(ConfigurationError):
        JwtVerifier(issuer="i", audience="a", algorithms=["RS256", "HS256"], jwks_url="https://x/", secret="s")
    with pytest.raises(ConfigurationError):
        JwtVerifier(issuer="i", audience="a", algorithms=[], jwks_url="https://x/")
    with pytest.raises(ConfigurationError):
        JwtVerifier(issuer="i", audience="a", algorithms=["none"], jwks_url="https://x/")


@pytest.mark.parametrize("claim", ["exp", "iat", "iss", "aud", "sub"])
def test_s03_token_missing_a_required_claim_is_rejected(http: TestClient, issuer: Issuer, claim: str) -> None:
    claims = issuer.claims("alice")
    del claims[claim]
    token = jose_jwt.encode({"alg": "RS256", "kid": "test-key-1"}, claims, issuer.key)
    assert claim not in jose_jwt.decode(token, issuer.key).claims
    assert post(http, token).status_code == 401
    assert connect_with(token) == "Denied"


@pytest.mark.parametrize(
    ("claims", "accepted"),
    [
        pytest.param({"exp": -61}, False, id="expired-past-leeway"),
        pytest.param({"exp": -20}, True, id="expired-within-leeway"),
        pytest.param({"nbf": +120}, False, id="not-yet-valid"),
        pytest.param({"iss": "https://evil.example/"}, False, id="wrong-issuer"),
        pytest.param({"aud": "another-app"}, False, id="wrong-audience"),
        pytest.param({"iat": +3600}, False, id="issued-in-the-future"),
    ],
)
def test_s04_expired_immature_or_foreign_tokens_are_rejected(
    http: TestClient, issuer: Issuer, claims: dict[str, int | str], accepted: bool
) -> None:
    with freeze_time("2026-11-27 04:00:00"):
        now = int(time.time())
        values = {k: (now + v if isinstance(v, int) else v) for k, v in claims.items()}
        token = issuer.token("alice", **values)
        status = post(http, token).status_code
    assert status == (200 if accepted else 401)


def test_s04_leeway_cannot_be_configured_above_sixty_seconds() -> None:
    assert MAX_LEEWAY_SECONDS == 60
    with pytest.raises(ConfigurationError):
        JwtVerifier(issuer="i", audience="a", algorithms=["RS256"], jwks_url="https://x/", leeway_seconds=61)


def test_s05_jwks_is_fetched_once_and_an_unknown_kid_flood_is_throttled(issuer: Issuer) -> None:
    with issuer.serve_jwks() as url:
        verifier = JwtVerifier(
            issuer=issuer.issuer, audience=issuer.audience, algorithms=["RS256"], jwks_url=url, jwks_cooldown_seconds=60
        )
        for i in range(100):
            assert verifier.verify(issuer.token(f"user-{i}")).sub == f"user-{i}"
        assert issuer.jwks_fetches == 1

        stranger = RSAKey.generate_key(2048, private=True)
        for i in range(50):
            forged = jose_jwt.encode({"alg": "RS256", "kid": f"unknown-{i}"}, issuer.claims("mallory"), stranger)
            with pytest.raises(AuthenticationError):
                verifier.verify(forged)
        assert issuer.jwks_fetches <= 2


def test_s05_a_rotated_key_is_picked_up_after_the_cooldown(issuer: Issuer) -> None:
    clock = [1000.0]
    with issuer.serve_jwks() as url:
        verifier = JwtVerifier(
            issuer=issuer.issuer, audience=issuer.audience, algorithms=["RS256"], jwks_url=url, jwks_cooldown_seconds=60
        )
        assert verifier.jwks is not None
        verifier.jwks._clock = lambda: clock[0]
        verifier.verify(issuer.token())
        issuer.key = RSAKey.generate_key(2048, parameters={"kid": "test-key-2"}, private=True)
        rotated = jose_jwt.encode({"alg": "RS256", "kid": "test-key-2"}, issuer.claims("alice"), issuer.key)
        with pytest.raises(AuthenticationError):
            verifier.verify(rotated)  # within the cooldown of the first fetch: no refetch yet
        clock[0] += 61
        assert verifier.verify(rotated).sub == "alice"
        assert issuer.jwks_fetches == 2


def test_s06_slow_jwks_endpoint_fails_fast(http: TestClient, issuer: Issuer) -> None:
    issuer.jwks_delay_seconds = 5
    started = time.monotonic()
    response = post(http, issuer.token())
    elapsed = time.monotonic() - started
    assert elapsed < 3.0
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    started = time.monotonic()
    # The issuer being slow is not the caller's fault: a failure (500, counted as an error), not a denial.
    assert connect_with(issuer.token()) == "Error: temporarily_unavailable"
    assert time.monotonic() - started < 3.0


def test_s06_jwks_endpoint_down_fails_fast_as_retryable(issuer: Issuer) -> None:
    verifier = JwtVerifier(
        issuer=issuer.issuer, audience=issuer.audience, algorithms=["RS256"], jwks_url="http://127.0.0.1:9/jwks.json"
    )
    started = time.monotonic()
    with pytest.raises(RetryableError):
        verifier.verify(issuer.token())
    assert time.monotonic() - started < 3.0


def test_s06_jwks_over_plain_http_is_refused_outside_loopback() -> None:
    with pytest.raises(ConfigurationError):
        JwtVerifier(issuer="i", audience="a", algorithms=["RS256"], jwks_url="http://issuer.example.com/jwks.json")


def test_s09_admin_route_needs_the_admin_scope(http: TestClient, issuer: Issuer) -> None:
    assert http.get("/v1/admin/plugins").status_code == 401
    user = http.get("/v1/admin/plugins", headers=bearer(issuer.token("alice", scope="chat")))
    assert user.status_code == 403
    assert user.json()["error"] == "forbidden"
    lookalike = http.get("/v1/admin/plugins", headers=bearer(issuer.token("alice", scope="chat clawline/admins")))
    assert lookalike.status_code == 403
    admin = http.get("/v1/admin/plugins", headers=bearer(issuer.token("root", scope="chat clawline/admin")))
    assert admin.status_code == 200
    assert admin.json()["bot"]


def test_s09_admin_scope_through_the_authorizer_context(stack: Stack) -> None:
    from tests.security.conftest import invoke_http

    event = load_event("http/get_messages.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/dev/v1/admin/plugins"
    event["rawQueryString"] = ""
    status, body, _ = invoke_http(event)  # the sample principal has scope "chat"
    assert status == 403
    event["requestContext"]["authorizer"]["lambda"]["scope"] = "chat clawline/admin"
    status, body, _ = invoke_http(event)
    assert status == 200, body


def test_s01_tokens_are_not_echoed_in_error_bodies(http: TestClient, issuer: Issuer) -> None:
    token = unsigned_token(issuer.claims("mallory"))
    assert token not in json.dumps(post(http, token).json())
    composition.reset()


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_s03_numeric_date_claims_must_be_json_numbers(http: TestClient, issuer: Issuer, claim: str) -> None:
    claims = issuer.claims("alice")
    now = int(time.time())
    claims[claim] = str({"exp": now + 300, "iat": now, "nbf": now - 10}[claim])  # "1900000000": a string
    token = jose_jwt.encode({"alg": "RS256", "kid": "test-key-1"}, claims, issuer.key)
    assert isinstance(jose_jwt.decode(token, issuer.key).claims[claim], str)
    assert post(http, token).status_code == 401
    assert connect_with(token) == "Denied"
    claims[claim] = int(claims[claim])
    assert post(http, jose_jwt.encode({"alg": "RS256", "kid": "test-key-1"}, claims, issuer.key)).status_code == 200


def _jwk(key: Any, kid: str | None = None, **extra: str) -> dict[str, Any]:
    jwk: dict[str, Any] = {**key.as_dict(private=False), "use": "sig", **extra}
    jwk.pop("kid", None)
    if kid is not None:
        jwk["kid"] = kid
    return jwk


def _verifier(url: str, issuer: Issuer) -> JwtVerifier:
    return JwtVerifier(issuer=issuer.issuer, audience=issuer.audience, algorithms=["RS256"], jwks_url=url)


def test_s05_token_without_a_kid_uses_the_issuers_only_key_of_the_allowed_family(issuer: Issuer) -> None:
    from joserfc.jwk import ECKey

    token = jose_jwt.encode({"alg": "RS256"}, issuer.claims("alice"), issuer.key)
    # One RSA key (published without a kid, as some issuers do) next to an EC key RS256 cannot use.
    issuer.jwks = lambda: {"keys": [_jwk(issuer.key), _jwk(ECKey.generate_key("P-256"), "ec-1")]}  # type: ignore[method-assign]
    with issuer.serve_jwks() as url:
        assert _verifier(url, issuer).verify(token).sub == "alice"
    # The same key under a kid: still the only RSA key, still chosen.
    issuer.jwks = lambda: {"keys": [_jwk(issuer.key, "test-key-1", alg="RS256")]}  # type: ignore[method-assign]
    with issuer.serve_jwks() as url:
        assert _verifier(url, issuer).verify(token).sub == "alice"


def test_s05_token_without_a_kid_is_refused_when_the_key_choice_is_ambiguous(issuer: Issuer) -> None:
    other = RSAKey.generate_key(2048, private=True)
    token = jose_jwt.encode({"alg": "RS256"}, issuer.claims("alice"), issuer.key)
    issuer.jwks = lambda: {"keys": [_jwk(issuer.key, "a"), _jwk(other, "b")]}  # type: ignore[method-assign]
    with issuer.serve_jwks() as url, pytest.raises(AuthenticationError):
        _verifier(url, issuer).verify(token)
    # A key whose own alg is outside the allow-list does not count as a candidate, and is never used.
    issuer.jwks = lambda: {"keys": [_jwk(issuer.key, "a", alg="RS512")]}  # type: ignore[method-assign]
    with issuer.serve_jwks() as url, pytest.raises(AuthenticationError):
        _verifier(url, issuer).verify(token)
