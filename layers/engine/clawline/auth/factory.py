"""The one ``JwtVerifier`` of a function, built lazily from its settings (used by the authorizer and the HTTP app).

Secrets (an HMAC key, the Fernet key) are read from Secrets Manager through Powertools parameters with a
``max_age``, so a rotated secret takes effect without a redeploy and the environment only ever holds the
secret's *name*. Secrets Manager only: the template grants ``secretsmanager:GetSecretValue`` on the named
secret and nothing else, so an ``ssm:/path`` name (read from SSM Parameter Store by earlier versions) is refused
as a configuration error instead of failing with AccessDenied on the first token.
"""

from __future__ import annotations

from functools import cache

from clawline.auth.jwt_verifier import JwtVerifier
from clawline.errors import ConfigurationError
from clawline.settings import Settings

#: Secrets are re-read at most this often.
SECRET_MAX_AGE_SECONDS = 300


def read_secret(name: str) -> str:
    """A Secrets Manager secret by name (or ARN)."""
    if name.startswith("ssm:"):
        raise ConfigurationError("secrets are read from Secrets Manager only: store the key there (docs/security.md)")
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(name, max_age=SECRET_MAX_AGE_SECONDS)
    return value if isinstance(value, str) else bytes(value).decode("utf-8")


def build_verifier(cfg: Settings) -> JwtVerifier:
    cfg.require("jwt_issuer", "jwt_audience")
    assert cfg.jwt_issuer is not None
    assert cfg.jwt_audience is not None
    return JwtVerifier(
        issuer=cfg.jwt_issuer,
        audience=cfg.jwt_audience,
        algorithms=[a.strip() for a in cfg.jwt_algorithms.split(",") if a.strip()],
        jwks_url=cfg.jwks_url or None,
        secret=read_secret(cfg.jwt_secret_name) if cfg.jwt_secret_name else None,
        leeway_seconds=cfg.jwt_leeway_seconds,
        jwks_cooldown_seconds=cfg.jwks_refetch_cooldown_seconds,
    )


@cache
def verifier() -> JwtVerifier:
    # Settings straight from the environment, not through ``clawline.composition``: that module imports the
    # engine (NLU, numpy, the rule compiler), which the authorizer never needs and must not pay for at cold start.
    return build_verifier(Settings.from_environ())
