"""The HTTP function invoked in process with API Gateway's event for any route, as the authorizer allowed it."""

from __future__ import annotations

import base64
import json
from typing import Any

import http_app
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context


def call(method: str, path: str, *, sub: str, scope: str, body: Any = None) -> tuple[int, Any]:
    """Status and decoded JSON body of ``method path`` (a query string may follow ``?``) for ``sub``'s token."""
    event = load_event("http/post_message.json")
    path, _, query = path.partition("?")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/dev{path}"
    event["rawQueryString"] = query
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["authorizer"] = {"lambda": {"sub": sub, "scope": scope}}
    event["headers"].pop("content-length", None)
    event["body"] = json.dumps(body) if body is not None else None
    response = http_app.handler(event, lambda_context("clawline-http"))
    raw = response.get("body")
    if response.get("isBase64Encoded") and raw:
        raw = base64.b64decode(raw).decode()
    return response["statusCode"], (json.loads(raw) if raw else None)
