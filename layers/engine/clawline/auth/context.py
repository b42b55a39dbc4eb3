"""What the authorizer hands the functions, and the check they make on it.

API Gateway caches the authorizer's answer (300 s on the HTTP API, keyed by the ``Authorization`` header), so
a token that expires a second after it was checked would keep working for the rest of the cache TTL. The
authorizer therefore passes the token's ``exp`` along with the principal, and every function refuses a context
whose ``exp`` (plus the verifier's leeway) has passed, as if the authorizer had run again.

    t0  authorizer: token valid until t0+10 -> allow, cached until t0+300, context {sub, scope, exp: t0+10}
    t0+60  cache hit -> function: now > exp + leeway -> 401, whatever the cache says
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from clawline.errors import AuthenticationError

if TYPE_CHECKING:
    # Only a type here: the functions import this module for check_not_expired, and jwt_verifier brings PyJWT and
    # cryptography (60 ms of a cold start) that only the authorizer's path needs.
    from clawline.auth.jwt_verifier import Principal


def authorizer_context(principal: Principal) -> dict[str, str]:
    """The context of an allow: strings only (API Gateway turns every context value into a string)."""
    exp = principal.claims["exp"]
    return {"sub": principal.sub, "scope": " ".join(sorted(principal.scopes)), "exp": str(int(exp))}


def check_not_expired(
    context: Mapping[str, Any], *, leeway_seconds: int, clock: Callable[[], float] | None = None
) -> None:
    """Refuse a context whose token has expired since the authorizer allowed it (a cached allow).

    A context without ``exp`` was built by hand (tests, ``sam local`` events); the authorizer always sets it.
    """
    raw = context.get("exp")
    if raw is None:
        return
    try:
        exp = int(str(raw))
    except ValueError as exc:
        raise AuthenticationError("missing or invalid credentials") from exc
    if (clock or time.time)() > exp + leeway_seconds:
        raise AuthenticationError("token expired")
