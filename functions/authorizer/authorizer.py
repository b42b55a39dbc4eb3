"""Lambda authorizer for the HTTP API (payload 2.0, simple responses) and WebSocket ``$connect`` (IAM policy).

It verifies the caller's JWT and hands the principal (``sub``, scopes, ``exp``) to the integration through the
authorizer context. The token is never logged. This module never imports FastAPI.

The token is read from the API's identity source only, because API Gateway caches an answer by that source:
the ``Authorization`` header on the HTTP API, the ``token`` query parameter on the WebSocket API.

Outcomes:

- a token that fails verification (or none): a denial (``isAuthorized: false`` -> 403; a Deny policy on
  ``$connect`` -> 403), counted in ``AuthFailures`` and logged at INFO. Never a Lambda error: anonymous probes
  must not trip the function error alarm or use the authorizer's concurrency on retries;
- the authorizer cannot verify anyone (no key or secret configured, the issuer's keys unreachable): logged at
  ERROR, counted in ``Errors`` and raised, so the caller gets a 500 and the alarm sees a real failure instead of
  a user's failed login.
"""

from __future__ import annotations

from typing import Any

from clawline.auth.context import authorizer_context
from clawline.auth.factory import verifier
from clawline.auth.jwt_verifier import Principal, bearer_token, query_token
from clawline.errors import AuthenticationError, ClawlineError
from clawline.observability import MetricName, count, logger, metrics, trace_libraries, traced_handler

# Only http.client (the JWKS fetch): patching botocore would import it, and the authorizer makes no AWS call
# unless it reads an HS256 secret (once per cold start and max_age).
trace_libraries(("httplib",))

__all__ = ["authorize", "handler", "verifier"]

#: The principal of a Deny policy: API Gateway requires one, and no caller is known.
ANONYMOUS = "anonymous"


def _websocket_policy(principal_id: str, effect: str, method_arn: str) -> dict[str, Any]:
    return {
        "principalId": principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": method_arn}],
        },
    }


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    http_api = event.get("version") == "2.0"
    token = bearer_token(event.get("headers")) if http_api else query_token(event.get("queryStringParameters"))
    try:
        if token is None:
            raise AuthenticationError("missing credentials")
        principal: Principal = verifier().verify(token)
    except AuthenticationError as exc:
        count(MetricName.AUTH_FAILURES)
        logger.info("request not authorized", extra={"reason": exc.code})
        if http_api:
            return {"isAuthorized": False}
        return _websocket_policy(ANONYMOUS, "Deny", str(event.get("methodArn", "")))
    except Exception as exc:
        # Configuration, the secret or the issuer's keys unreachable: nobody can be verified. Not the caller's failure.
        count(MetricName.ERRORS)
        code = exc.code if isinstance(exc, ClawlineError) else type(exc).__name__
        logger.error("authorizer cannot verify tokens", extra={"error": code, "reason": str(exc)})
        raise
    context = authorizer_context(principal)
    if http_api:
        return {"isAuthorized": True, "context": context}
    return {**_websocket_policy(principal.sub, "Allow", str(event.get("methodArn", ""))), "context": context}


@logger.inject_lambda_context
@metrics.log_metrics
@traced_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return authorize(event)
