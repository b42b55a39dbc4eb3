"""A JWKS cache with a refetch cooldown, for warm Lambda containers.

PyJWKClient caches keys, but it refetches the key set for every token whose ``kid`` it does not know: a flood
of tokens with random kids becomes a flood of requests to the issuer (and of latency for us). Here:

- the key set is fetched once and kept for ``max_age_seconds``;
- an unknown ``kid`` triggers at most one refetch per ``cooldown_seconds`` (a key rotation is picked up
  within a cooldown; a flood costs one request per cooldown);
- the fetch has a short timeout, so a slow or dead issuer fails the request fast instead of eating the
  authorizer's budget;
- a token without a ``kid`` (optional in RFC 7515) is verified with the issuer's key only when the set holds
  exactly one key usable with the allowed algorithms; with several the choice would be a guess, and is refused.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import jwt

from clawline.errors import AuthenticationError, ConfigurationError, RetryableError

MAX_JWKS_BYTES = 256 * 1024
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
#: The JWK key type each algorithm family signs with (RFC 7518 section 6.1, RFC 8037 for OKP).
KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}


def usable_with(jwk: dict[str, Any], algorithms: frozenset[str]) -> bool:
    """Whether the JWK can verify a signature made with one of ``algorithms`` (its ``alg``, if it names one)."""
    named = jwk.get("alg")
    if isinstance(named, str):
        return named in algorithms
    return any(KEY_TYPES.get(alg[:2]) == jwk.get("kty") for alg in algorithms)


def check_jwks_url(url: str) -> str:
    """HTTPS only, except on loopback (the local runtime and tests): keys fetched in clear could be swapped."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        return url
    raise ConfigurationError("the JWKS URL must use https")


class JwksCache:
    def __init__(
        self,
        url: str,
        *,
        max_age_seconds: float = 3600,
        cooldown_seconds: float = 60,
        timeout_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = check_jwks_url(url)
        self._max_age = max_age_seconds
        self._cooldown = cooldown_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        #: Every usable key of the set, with or without a kid (a token without a kid may use the only one).
        self._all: list[tuple[dict[str, Any], jwt.PyJWK]] = []
        self._fetched_at: float | None = None
        self._lock = threading.Lock()
        #: How many times the key set was requested (tests and metrics read it).
        self.fetches = 0

    def _fetch(self) -> list[tuple[dict[str, Any], jwt.PyJWK]]:
        self.fetches += 1
        request = urllib.request.Request(self._url, headers={"Accept": "application/json"})  # noqa: S310 - scheme checked
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as resp:  # noqa: S310  # nosec B310
                body = resp.read(MAX_JWKS_BYTES + 1)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise RetryableError("identity provider keys are unavailable") from exc
        if len(body) > MAX_JWKS_BYTES:
            raise RetryableError("identity provider key set is too large")
        try:
            data: Any = json.loads(body)
            keys = data["keys"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RetryableError("identity provider key set is not JWKS") from exc
        found: list[tuple[dict[str, Any], jwt.PyJWK]] = []
        for jwk in keys if isinstance(keys, list) else []:
            if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
                continue
            if jwk.get("kid") is not None and not isinstance(jwk.get("kid"), str):
                continue
            try:
                found.append((jwk, jwt.PyJWK(jwk)))
            except jwt.PyJWKError:
                continue  # a key type we cannot use (or a malformed one) must not hide the others
        return found

    def key(self, kid: str | None, algorithms: frozenset[str] = frozenset()) -> Any:
        """The signing key for ``kid``; raises ``AuthenticationError`` if the issuer does not have it.

        Without a kid, the one key of the set usable with ``algorithms``; refused when there are several.
        """
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._max_age
            cooled = self._fetched_at is None or now - self._fetched_at >= self._cooldown
            if stale or (kid and kid not in self._keys and cooled):
                fetched = self._fetch()
                self._keys = {raw["kid"]: jwk for raw, jwk in fetched if raw.get("kid")}
                self._all = fetched
                self._fetched_at = now
            if kid:
                jwk = self._keys.get(kid)
            else:
                candidates = [jwk for raw, jwk in self._all if usable_with(raw, algorithms)]
                if len(candidates) > 1:
                    raise AuthenticationError("token has no key id and the issuer has several keys")
                jwk = candidates[0] if candidates else None
        if jwk is None:
            raise AuthenticationError("token signing key is not known")
        return jwk.key
