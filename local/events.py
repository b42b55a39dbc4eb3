"""Events for one function, as API Gateway and the IoT rule send them: ``clawline generate-event`` writes them,
``clawline invoke`` reads them (its own, the ones in ``events/``, or ``sam local generate-event`` output as is).

A generated HTTP event (``sam local generate-event apigateway http-api-proxy``) carries a JWT authorizer block
with placeholder claims; Clawline's routes sit behind a Lambda authorizer, whose context the HTTP function reads.
:func:`with_authorizer_context` puts the context the authorizer returned (for ``--sub`` or a token) where API
Gateway would.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import UTC, datetime
from typing import Any, Literal

Kind = Literal["http", "websocket", "mqtt", "authorizer"]
KINDS: tuple[Kind, ...] = ("http", "websocket", "mqtt", "authorizer")
ACCOUNT = "123456789012"
HTTP_API_ID = "a1b2c3d4e5"
WS_API_ID = "f9e8d7c6b5"
REGION = "us-east-1"


def kind_of(event: Any) -> Kind | None:
    """Which function an event is for, from its shape (None: not an event Clawline knows)."""
    if not isinstance(event, dict):
        return None
    context = event.get("requestContext") or {}
    if event.get("type") == "REQUEST" or "methodArn" in event or "routeArn" in event:
        return "authorizer"
    if "connectionId" in context or context.get("eventType") in ("CONNECT", "MESSAGE", "DISCONNECT"):
        return "websocket"
    if event.get("version") == "2.0" or "http" in context or "httpMethod" in event:
        return "http"
    if "thing" in event or ("payload" in event and "topic" in event):
        return "mqtt"
    return None


def _now() -> tuple[str, int]:
    now = time.time()
    return datetime.fromtimestamp(now, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"), int(now * 1000)


def _request_id() -> str:
    return base64.b64encode(secrets.token_bytes(10)).decode().rstrip("=")


def http_event(
    text: str,
    *,
    conversation_id: str = "conv-1",
    message_id: str | None = None,
    method: str = "POST",
    path: str = "/v1/messages",
    stage: str = "dev",
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for ``POST /v1/messages``, or any ``method``/``path`` of the API."""
    when, epoch = _now()
    raw_path = f"/{stage}{path}" if stage not in ("", "$default") else path
    route = f"{method} {path}"
    body = {"text": text, "conversation_id": conversation_id, "message_id": message_id or f"msg-{secrets.token_hex(4)}"}
    host = f"{HTTP_API_ID}.execute-api.{REGION}.amazonaws.com"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {"accept": "application/json", "content-type": "application/json", "host": host},
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": HTTP_API_ID,
            "domainName": host,
            "domainPrefix": HTTP_API_ID,
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10",
                     "userAgent": "clawline-generate-event"},
            "requestId": _request_id(),
            "routeKey": route,
            "stage": stage,
            "time": when,
            "timeEpoch": epoch,
        },
        "isBase64Encoded": False,
    }  # fmt: skip
    if method in ("POST", "PUT", "PATCH"):
        event["body"] = json.dumps(body)
    return event


def websocket_event(
    text: str,
    *,
    route: str = "$default",
    connection_id: str | None = None,
    conversation_id: str = "conv-ws-1",
    message_id: str | None = None,
    stage: str = "dev",
) -> dict[str, Any]:
    """A WebSocket API event: ``$connect`` (with ``?token=``), ``$default`` (a message) or ``$disconnect``."""
    when, epoch = _now()
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    request_id = _request_id()
    event: dict[str, Any] = {
        "requestContext": {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": request_id,
            "requestTime": when,
            "messageDirection": "IN",
            "stage": stage,
            "connectedAt": epoch,
            "requestTimeEpoch": epoch,
            "identity": {"userAgent": "clawline-generate-event", "sourceIp": "203.0.113.10"},
            "requestId": request_id,
            "domainName": f"{WS_API_ID}.execute-api.{REGION}.amazonaws.com",
            "connectionId": connection_id or f"{_request_id()[:14]}=",
            "apiId": WS_API_ID,
        },
        "isBase64Encoded": False,
    }
    if event_type == "MESSAGE":
        event["requestContext"]["messageId"] = _request_id()
        body = {"action": "message", "text": text, "conversation_id": conversation_id}
        event["body"] = json.dumps({**body, "message_id": message_id or f"ws-msg-{secrets.token_hex(4)}"})
    return event


def mqtt_event(text: str, *, thing: str = "kitchen-1", message_id: str | None = None) -> dict[str, Any]:
    """What the IoT rule (``SELECT encode(*, 'base64') AS payload, topic(2) AS thing ...``) sends."""
    payload = {"text": text, "message_id": message_id or f"dev-msg-{secrets.token_hex(4)}"}
    return {
        "payload": base64.b64encode(json.dumps(payload).encode()).decode(),
        "thing": thing,
        "client_id": thing,
        "received_at": _now()[1],
    }


def authorizer_event(kind: Literal["http", "websocket"], token: str, *, stage: str = "dev") -> dict[str, Any]:
    """The request authorizer event API Gateway sends for a route (HTTP API) or ``$connect`` (WebSocket)."""
    when, epoch = _now()
    if kind == "http":
        return {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{HTTP_API_ID}/{stage}/POST/v1/messages",
            "identitySource": [f"Bearer {token}"],
            "routeKey": "POST /v1/messages",
            "rawPath": f"/{stage}/v1/messages",
            "rawQueryString": "",
            "headers": {"authorization": f"Bearer {token}"},
            "requestContext": {"accountId": ACCOUNT, "apiId": HTTP_API_ID, "requestId": _request_id(),
                               "routeKey": "POST /v1/messages", "stage": stage, "time": when, "timeEpoch": epoch},
        }  # fmt: skip
    connect = websocket_event("", route="$connect", stage=stage)
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{WS_API_ID}/{stage}/$connect",
        "headers": {},
        "queryStringParameters": {"token": token},
        "multiValueQueryStringParameters": {"token": [token]},
        "stageVariables": {},
        "requestContext": connect["requestContext"],
    }


def with_token(event: dict[str, Any], token: str) -> dict[str, Any]:
    """An authorizer event carrying ``token`` wherever the request carries one (header, identity source, query)."""
    out: dict[str, Any] = json.loads(json.dumps(event))
    headers = out.get("headers") or {}
    names = [n for n in headers if n.lower() == "authorization"] or (["authorization"] if "routeArn" in out else [])
    for name in names:
        headers[name] = f"Bearer {token}"
    if headers:
        out["headers"] = headers
    if "identitySource" in out:
        out["identitySource"] = [f"Bearer {token}"]
    for key in ("queryStringParameters", "multiValueQueryStringParameters"):
        query = out.get(key)
        if isinstance(query, dict) and "token" in query:
            query["token"] = [token] if key.startswith("multi") else token
    return out


def with_authorizer_context(event: dict[str, Any], kind: Kind, context: dict[str, Any]) -> dict[str, Any]:
    """The event as API Gateway passes it on after its Lambda authorizer allowed it with ``context``.

    HTTP API (simple responses): ``requestContext.authorizer.lambda``; a JWT authorizer block from a generated
    event is replaced. WebSocket: the context's keys and ``principalId`` under ``requestContext.authorizer``.
    """
    out: dict[str, Any] = json.loads(json.dumps(event))
    request_context = out.setdefault("requestContext", {})
    if kind == "http":
        request_context["authorizer"] = {"lambda": dict(context)}
    elif kind == "websocket" and request_context.get("eventType") != "DISCONNECT":
        request_context["authorizer"] = {"principalId": context.get("sub", ""), **context, "integrationLatency": 0}
    return out


def generate(kind: Kind, text: str, **options: Any) -> dict[str, Any]:
    if kind == "http":
        return http_event(text, **options)
    if kind == "websocket":
        return websocket_event(text, **options)
    if kind == "mqtt":
        return mqtt_event(text, **options)
    raise ValueError(f"no generator for {kind!r} events")
