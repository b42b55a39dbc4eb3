"""JWT verification with PyJWT, in one place.

- A fixed algorithm allow-list of one family (never read from the token header): no ``alg=none``, no
  RS/HS key confusion.
- ``exp``, ``iat``, ``iss``, ``aud`` and ``sub`` are required; leeway is at most 60 s.
- Keys come from a JWKS URL (Cognito or any OIDC issuer), cached across warm invocations with a refetch
  cooldown for unknown key ids (``clawline.auth.jwks``), or from a shared HMAC secret that the composition
  root reads from Secrets Manager or SSM.
- The key is chosen by the token's ``kid`` only; the algorithm comes from our allow-list, and PyJWT refuses
  to use an asymmetric public key as an HMAC secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt

from clawline.auth.jwks import JwksCache
from clawline.errors import AuthenticationError, ConfigurationError

ASYMMETRIC = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"})
SYMMETRIC = frozenset({"HS256", "HS384", "HS512"})
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
MAX_LEEWAY_SECONDS = 60


@dataclass(frozen=True)
class Principal:
    sub: str
    scopes: frozenset[str]
    claims: dict[str, Any]


class JwtVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        algorithms: list[str],
        jwks_url: str | None = None,
        secret: str | None = None,
        leeway_seconds: int = 30,
        jwks_cache_seconds: int = 3600,
        jwks_timeout_seconds: float = 2.0,
        jwks_cooldown_seconds: float = 60.0,
    ) -> None:
        algs = set(algorithms)
        if not algs or not (algs <= ASYMMETRIC or algs <= SYMMETRIC):
            raise ConfigurationError(f"algorithms must be one non-empty family (asymmetric or HMAC): {algorithms}")
        if algs <= ASYMMETRIC and not jwks_url:
            raise ConfigurationError("asymmetric algorithms need a JWKS URL")
        if algs <= SYMMETRIC and not secret:
            raise ConfigurationError("HMAC algorithms need a secret")
        if not 0 <= leeway_seconds <= MAX_LEEWAY_SECONDS:
            raise ConfigurationError(f"leeway must be between 0 and {MAX_LEEWAY_SECONDS} seconds")
        self._issuer = issuer
        self._audience = audience
        self._algorithms = sorted(algs)
        self._secret = secret
        self._leeway = leeway_seconds
        self._jwks = (
            JwksCache(
                jwks_url,
                max_age_seconds=jwks_cache_seconds,
                cooldown_seconds=jwks_cooldown_seconds,
                timeout_seconds=jwks_timeout_seconds,
            )
            if jwks_url and algs <= ASYMMETRIC
            else None
        )

    @property
    def jwks(self) -> JwksCache | None:
        return self._jwks

    def _key(self, token: str) -> Any:
        if self._jwks is None:
            return self._secret
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError as exc:
            raise AuthenticationError("missing or invalid credentials") from exc
        # The header is attacker-controlled: only its kid is read, and only to pick among the issuer's keys.
        if header.get("alg") not in self._algorithms:
            raise AuthenticationError("missing or invalid credentials")
        kid = header.get("kid")
        return self._jwks.key(kid if isinstance(kid, str) else None)

    def verify(self, token: str) -> Principal:
        if not token or len(token) > 8192:
            raise AuthenticationError("missing or invalid credentials")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=self._key(token),
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS, "verify_signature": True},
            )
        except jwt.InvalidTokenError as exc:
            raise AuthenticationError("missing or invalid credentials") from exc
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise AuthenticationError("missing or invalid credentials")
        raw_scope = claims.get("scope", claims.get("scp", ""))
        scopes = frozenset(raw_scope.split() if isinstance(raw_scope, str) else [str(s) for s in raw_scope or []])
        return Principal(sub=sub, scopes=scopes, claims=claims)


def bearer_token(headers: dict[str, str] | None, query: dict[str, str] | None = None) -> str | None:
    """The token from ``Authorization: Bearer ...`` or, for browsers' WebSockets, the ``token`` query parameter."""
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    from_query = (query or {}).get("token")
    return from_query if isinstance(from_query, str) and from_query else None
