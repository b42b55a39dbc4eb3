"""A development identity provider: an RSA key made at start, its JWKS, and tokens signed with it.

The real authorizer verifies these tokens exactly as it verifies Cognito's (RS256 through a JWKS URL), so
the local runtime exercises the production verification path. The key lives only in memory: a token is
good for one run of the runtime and nowhere else.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

DEV_ISSUER = "http://127.0.0.1/clawline-dev"  # replaced by the gateway's own URL at start
DEV_AUDIENCE = "clawline"


def _new_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class DevIssuer:
    issuer: str
    audience: str = DEV_AUDIENCE
    kid: str = field(default_factory=lambda: f"clawline-dev-{uuid.uuid4().hex[:8]}")
    _key: Any = field(default_factory=_new_key, repr=False)

    def jwks(self) -> dict[str, Any]:
        from jwt.algorithms import RSAAlgorithm

        jwk = json.loads(RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def token(self, sub: str, *, ttl_seconds: int = 12 * 3600, scope: str = "chat", **claims: Any) -> str:
        import jwt

        now = int(time.time())
        body = {
            "sub": sub,
            "iss": self.issuer,
            "aud": self.audience,
            "iat": now,
            "exp": now + ttl_seconds,
            "scope": scope,
            **claims,
        }
        return jwt.encode(body, self._key, algorithm="RS256", headers={"kid": self.kid})
