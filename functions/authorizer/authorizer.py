"""Lambda authorizer for the HTTP API (payload 2.0, simple responses) and WebSocket ``$connect`` (IAM policy).

It verifies the caller's JWT and hands the principal (``sub``, scopes) to the integration through the
authorizer context. The token is never logged. This module never imports FastAPI.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from clawline import composition
from clawline.auth.jwt_verifier import JwtVerifier, Principal, bearer_token
from clawline.errors import AuthenticationError, ClawlineError
from clawline.observability import MetricName, count, logger, metrics, tracer

#: Secrets are re-read at most this often, so a rotated secret takes effect without a redeploy.
SECRET_MAX_AGE_SECONDS = 300


def _secret(name: str) -> str:
    from aws_lambda_powertools.utilities import parameters

    if name.startswith("ssm:"):
        value = parameters.get_parameter(name[4:], decrypt=True, max_age=SECRET_MAX_AGE_SECONDS)
    else:
        value = parameters.get_secret(name, max_age=SECRET_MAX_AGE_SECONDS)
    return value if isinstance(value, str) else value.decode()


@cache
def verifier() -> JwtVerifier:
    cfg = composition.settings()
    cfg.require("jwt_issuer", "jwt_audience")
    assert cfg.jwt_issuer is not None and cfg.jwt_audience is not None
    return JwtVerifier(
        issuer=cfg.jwt_issuer,
        audience=cfg.jwt_audience,
        algorithms=[a.strip() for a in cfg.jwt_algorithms.split(",") if a.strip()],
        jwks_url=cfg.jwks_url,
        secret=_secret(cfg.jwt_secret_name) if cfg.jwt_secret_name else None,
        leeway_seconds=cfg.jwt_leeway_seconds,
    )


def _context(principal: Principal) -> dict[str, str]:
    return {"sub": principal.sub, "scope": " ".join(sorted(principal.scopes))}


def _websocket_policy(principal: Principal, method_arn: str) -> dict[str, Any]:
    return {
        "principalId": principal.sub,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": method_arn}],
        },
        "context": _context(principal),
    }


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    http_api = event.get("version") == "2.0"
    token = bearer_token(event.get("headers"), event.get("queryStringParameters"))
    try:
        if token is None:
            raise AuthenticationError("missing credentials")
        principal = verifier().verify(token)
    except ClawlineError as exc:
        count(MetricName.AUTH_FAILURES)
        logger.info("request not authorized", extra={"reason": exc.code})
        if http_api:
            return {"isAuthorized": False}
        # API Gateway answers 401 to a WebSocket upgrade when the authorizer raises "Unauthorized".
        raise PermissionError("Unauthorized") from exc
    if http_api:
        return {"isAuthorized": True, "context": _context(principal)}
    return _websocket_policy(principal, str(event.get("methodArn", "")))


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event)
