"""JWT verification with PyJWT, in one place.

- A fixed algorithm allow-list of one family (never read from the token header): no ``alg=none``, no
  RS/HS key confusion.
- ``exp``, ``iat``, ``iss``, ``aud`` and ``sub`` are required; leeway is at most 60 s.
- Keys come from a JWKS URL (Cognito or any OIDC issuer), cached across warm invocations with a refetch
  cooldown for unknown key ids (``clawline.auth.jwks``), or from a shared HMAC secret that the composition
  root reads from Secrets Manager or SSM.
- The key is chosen by the token's ``kid`` only; the algorithm comes from our allow-list, and PyJWT refuses
  to use an asymmetric public key as an HMAC secret. Without a ``kid`` the issuer's only key of the allowed
  family is used, never a guess among several.
- ``exp``, ``iat`` and ``nbf`` must be JSON numbers (RFC 7519 NumericDate): PyJWT would accept ``"exp":
  "1900000000"``, a string another verifier may read differently.
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
NUMERIC_DATE_CLAIMS = ("exp", "iat", "nbf")
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
        if kid is not None and not isinstance(kid, str):
            raise AuthenticationError("missing or invalid credentials")
        return self._jwks.key(kid, frozenset(self._algorithms))

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
        for name in NUMERIC_DATE_CLAIMS:
            value = claims.get(name)
            if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise AuthenticationError("missing or invalid credentials")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise AuthenticationError("missing or invalid credentials")
        raw_scope = claims.get("scope", claims.get("scp", ""))
        scopes = frozenset(raw_scope.split() if isinstance(raw_scope, str) else [str(s) for s in raw_scope or []])
        return Principal(sub=sub, scopes=scopes, claims=claims)


def bearer_token(headers: dict[str, str] | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header, and nothing else.

    Never a fallback to another place: API Gateway caches the authorizer's answer by its identity source (the
    ``Authorization`` header on the HTTP API), so a token read from anywhere else would be cached under a key
    that does not hold it, and a later caller sending the same key without any token would act as its owner.
    """
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


def query_token(query: dict[str, str] | None) -> str | None:
    """The ``token`` query parameter: the WebSocket API's identity source (browsers cannot set headers there)."""
    token = (query or {}).get("token")
    return token if isinstance(token, str) and token else None
