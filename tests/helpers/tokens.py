"""JWTs for tests, minted with joserfc: a second JOSE library, so the verifier is never checked against itself.

``Issuer`` holds an RSA signing key and serves its JWKS from a loopback ``http.server`` thread, counting
fetches (caching tests need the count).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.helpers.loopback import serve

ISSUER = "https://issuer.clawline.test/"
AUDIENCE = "clawline"


@dataclass
class Issuer:
    key: RSAKey = field(
        default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "test-key-1"}, private=True)
    )
    issuer: str = ISSUER
    audience: str = AUDIENCE
    jwks_fetches: int = 0
    jwks_delay_seconds: float = 0.0

    def claims(self, sub: str = "user-123", **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {"iss": self.issuer, "aud": self.audience, "sub": sub, "iat": now, "exp": now + 300}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, sub: str = "user-123", *, header: dict[str, Any] | None = None, **claims: Any) -> str:
        return jwt.encode({"alg": "RS256", "kid": "test-key-1", **(header or {})}, self.claims(sub, **claims), self.key)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [{**self.key.as_dict(private=False), "use": "sig", "alg": "RS256"}]}

    @contextmanager
    def serve_jwks(self) -> Iterator[str]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                return

            def do_GET(self) -> None:
                issuer.jwks_fetches += 1
                if issuer.jwks_delay_seconds:
                    time.sleep(issuer.jwks_delay_seconds)
                body = json.dumps(issuer.jwks()).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        with serve(Handler) as url:
            yield f"{url}/.well-known/jwks.json"


# ----- attacker-shaped tokens ----------------------------------------------------------------------------------
# joserfc (rightly) refuses to mint these, so they are assembled by hand: base64url JSON segments plus either no
# signature or an HMAC keyed with something that is not a secret. Nothing here uses the verifier's code.


def _segment(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def unsigned_token(claims: dict[str, Any], *, alg: str = "none", kid: str | None = "test-key-1") -> str:
    """``alg=none`` (or any spelling of it) with an empty signature."""
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    return f"{_segment(header)}.{_segment(claims)}."


def hmac_token(claims: dict[str, Any], key: bytes, *, alg: str = "HS256", kid: str | None = "test-key-1") -> str:
    """An HMAC-signed token; with ``key`` = the issuer's public PEM this is the RS/HS key-confusion attack."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).decode().rstrip('=')}"


def hs256_secret_token(secret: str, claims: dict[str, Any]) -> str:
    """A legitimate HS256 token for a shared-secret deployment, minted by joserfc."""
    from joserfc.jwk import OctKey

    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret.encode()))
