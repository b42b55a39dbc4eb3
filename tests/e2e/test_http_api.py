"""The HTTP API as API Gateway serves it: the authorizer before the function, the stage prefix, the route
table from the template, and the foundation issue's bad inputs refused with stable JSON errors."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from local.runtime import Runtime
from tests.e2e.conftest import REPLY_TIMEOUT, Http, unique

pytestmark = pytest.mark.e2e


@pytest.fixture
def http(runtime: Runtime) -> Http:
    return Http(runtime, unique("http-bad"))


def test_health_needs_no_token_and_unknown_routes_are_404(runtime: Runtime) -> None:
    assert httpx.get(f"{runtime.http_url}/health", timeout=REPLY_TIMEOUT).json()["status"] == "ok"
    assert httpx.get(f"{runtime.http_url}/nope", timeout=REPLY_TIMEOUT).status_code == 404
    # Outside the stage, as on API Gateway, nothing of the API answers.
    assert httpx.get(f"{runtime.gateway_url}/v1/messages", timeout=REPLY_TIMEOUT).status_code == 404


def test_head_health_answers_200_without_a_body_through_the_gateway(runtime: Runtime) -> None:
    """`curl -I .../health`, the seed's own health check, through the template's routes."""
    response = httpx.head(f"{runtime.http_url}/health", timeout=REPLY_TIMEOUT)
    assert response.status_code == 200
    assert response.content == b""


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b'{"text": "hi",', 422, "invalid_input"),  # malformed JSON
        (b'{"conversation_id": "c"}', 422, "invalid_input"),  # missing text
        (b'{"text": "hi", "colour": "red"}', 422, "invalid_input"),  # unknown field
        (b'["hi"]', 422, "invalid_input"),  # not an object
        (('{"text": "' + "x" * (16 * 1024 + 1) + '"}').encode(), 413, "payload_too_large"),  # text over 16 KB
    ],
    ids=["malformed-json", "missing-text", "unknown-field", "not-an-object", "text-over-16kb"],
)
def test_bad_body_gets_a_json_error_and_stores_nothing(http: Http, body: bytes, status: int, code: str) -> None:
    conversation = unique("bad")
    response = http.client.post(
        "/v1/messages",
        content=body.replace(b'"c"', f'"{conversation}"'.encode()),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert http.client.get(f"/v1/conversations/{conversation}/messages").status_code == 404


def test_binary_body_arrives_base64_encoded_and_is_decoded_like_api_gateway_does(http: Http) -> None:
    # A non-text content type makes API Gateway base64-encode the body (isBase64Encoded); JSON inside still works.
    conversation = unique("b64")
    response = http.client.post(
        "/v1/messages",
        content=f'{{"text": "hi", "conversation_id": "{conversation}"}}'.encode(),
        headers={"content-type": "application/octet-stream"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["conversation_id"] == conversation


def test_binary_body_that_is_not_text_is_refused_as_not_utf8(http: Http) -> None:
    response = http.client.post(
        "/v1/messages", content=b"\xff\xfe\x00\x81", headers={"content-type": "application/octet-stream"}
    )
    assert response.status_code == 422
    assert response.json()["details"]["reason"] == "not_utf8"


def test_request_without_a_token_is_401_before_the_function_runs(runtime: Runtime) -> None:
    response = httpx.post(f"{runtime.http_url}/v1/messages", json={"text": "hi"}, timeout=REPLY_TIMEOUT)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def _foreign_token(runtime: Runtime, **overrides: object) -> str:
    now = int(time.time())
    claims = {
        "sub": "mallory",
        "iss": runtime.issuer.issuer if runtime.issuer else "",
        "aud": "clawline",
        "iat": now,
        "exp": now + 600,
        **overrides,
    }
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": runtime.issuer.kid if runtime.issuer else ""})


@pytest.mark.parametrize("kind", ["wrong-key", "expired", "wrong-audience", "garbage"])
def test_token_that_fails_verification_is_403(runtime: Runtime, kind: str) -> None:
    now = int(time.time())
    token = {
        "wrong-key": lambda: _foreign_token(runtime),
        "expired": lambda: runtime.token("alice", iat=now - 7200, exp=now - 3600),
        "wrong-audience": lambda: runtime.token("alice", aud="someone-else"),
        "garbage": lambda: "not.a.jwt",
    }[kind]()
    response = httpx.post(
        f"{runtime.http_url}/v1/messages",
        json={"text": "hi"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=REPLY_TIMEOUT,
    )
    assert response.status_code == 403
    assert response.json() == {"message": "Forbidden"}


def test_conversation_history_and_delete_are_the_callers_own(runtime: Runtime) -> None:
    owner, other = Http(runtime, unique("owner")), Http(runtime, unique("other"))
    conversation = unique("mine")
    owner.say("hi", conversation)
    assert other.client.get(f"/v1/conversations/{conversation}/messages").status_code == 404
    assert other.client.delete(f"/v1/conversations/{conversation}").status_code == 404
    assert owner.client.delete(f"/v1/conversations/{conversation}").status_code == 204
    assert owner.client.get(f"/v1/conversations/{conversation}/messages").status_code == 404


def test_cors_preflight_is_answered_by_the_gateway_for_allowed_origins(runtime: Runtime) -> None:
    headers = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"}
    response = httpx.options(f"{runtime.http_url}/v1/messages", headers=headers, timeout=REPLY_TIMEOUT)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    denied = httpx.options(
        f"{runtime.http_url}/v1/messages", headers={**headers, "Origin": "https://evil.example"}, timeout=REPLY_TIMEOUT
    )
    assert "access-control-allow-origin" not in denied.headers
