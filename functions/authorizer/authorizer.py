"""Lambda authorizer for the HTTP API (payload 2.0, simple responses) and WebSocket ``$connect`` (IAM policy).

It verifies the caller's JWT and hands the principal (``sub``, scopes) to the integration through the
authorizer context. The token is never logged. This module never imports FastAPI.
"""

from __future__ import annotations

from typing import Any

from clawline.auth.factory import verifier
from clawline.auth.jwt_verifier import Principal, bearer_token
from clawline.errors import AuthenticationError, ClawlineError
from clawline.observability import MetricName, count, logger, metrics, trace_libraries, traced_handler

# Only http.client (the JWKS fetch): patching botocore would import it, and the authorizer makes no AWS call
# unless it reads an HS256 secret (once per cold start and max_age).
trace_libraries(("httplib",))

__all__ = ["authorize", "handler", "verifier"]


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
@traced_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event)
