"""WebSocket API function: $connect, $disconnect and $default (every message) on one Lambda.

Authentication happens once, at $connect, in the authorizer. API Gateway hands what that authorizer returned
to every later event of the connection (``requestContext.authorizer``), so a message acts as that principal
with no connection-table read; the connection record (kept for fan-out and 410 clean-up) is read only for a
message event without that context (a $connect deployed without the authorizer). Replies and error frames go
back through the @connections API. This module never imports FastAPI: it keeps the cold start small.

Every frame the client gets is typed (``reply`` or ``error``) and names the ``message_id`` once it is known,
including for failures that are not Clawline's own (a botocore error, a bug): those are logged with their
stack, counted in ``Errors`` and answered ``internal_error``. Left to raise, API Gateway would send the client
an untyped ``{"message": "Internal server error"}``. Binary frames (``isBase64Encoded``) are decoded first.
"""

from __future__ import annotations

# First, before any framework: importing the engine's package holds the garbage collector off for the whole cold
# start, these imports included (clawline.gc_pause; a no-op outside Lambda).
import clawline  # noqa: F401

# isort: split
import base64
import binascii
import uuid
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from clawline import composition, snapstart
from clawline.channels.payloads import decode_json_object, envelope_limit, parse_payload, to_inbound
from clawline.channels.websocket import WebSocketNotifier
from clawline.errors import AuthenticationError, ClawlineError, ForbiddenError, InvalidInputError, RetryableError
from clawline.messages import Channel
from clawline.observability import (
    MetricName,
    channel_dimensions,
    count,
    logger,
    metrics,
    trace_libraries,
    traced_handler,
)
from clawline.principals import Principal, PrincipalKind, owner_key

OK = {"statusCode": 200}

# Every supported library the engine and plugins may call (botocore, http.client, requests...) is traced.
trace_libraries()
# With SnapStart on, the snapshot is taken after the bot, its NLU and these services' models are loaded.
snapstart.register(services=("dynamodb", "apigatewaymanagementapi", "iot-data", "kms"))


def _authorized_principal(request_context: dict[str, Any]) -> str | None:
    authorizer = request_context.get("authorizer") or {}
    sub = authorizer.get("sub") or authorizer.get("principalId")
    return sub if isinstance(sub, str) and sub else None


def on_connect(ctx: dict[str, Any]) -> dict[str, Any]:
    sub = _authorized_principal(ctx)
    if sub is None:  # API Gateway only calls us after the authorizer allowed; refuse anyway if it did not
        count(MetricName.AUTH_FAILURES)
        return {"statusCode": 401}
    from clawline.auth.context import check_not_expired  # $connect only: a message's turn never needs it

    try:  # an allow cached past the token's expiry (clawline.auth.context)
        check_not_expired(ctx.get("authorizer") or {}, leeway_seconds=composition.settings().jwt_leeway_seconds)
    except AuthenticationError:
        count(MetricName.AUTH_FAILURES)
        return {"statusCode": 401}
    try:
        composition.connection_store().add(
            ctx["connectionId"],
            owner_key(PrincipalKind.USER, sub),
            domain=str(ctx.get("domainName", "")),
            stage=str(ctx.get("stage", "")),
        )
    except RetryableError as exc:
        # The store is throttled: the connection is refused with a status the client retries on (503), rather than
        # an unhandled error (which API Gateway would also answer with 500, but as a failed invocation).
        count(MetricName.ERRORS)
        return {"statusCode": exc.http_status}
    return OK


def on_disconnect(ctx: dict[str, Any]) -> dict[str, Any]:
    composition.connection_store().remove(ctx["connectionId"])
    return OK


def frame_body(event: dict[str, Any]) -> str | bytes:
    """The frame as sent: text, or the bytes of a binary frame (API Gateway base64-encodes those)."""
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return str(body)
    try:
        return base64.b64decode(str(body), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError("binary frame is not base64", details={"reason": "malformed_frame"}) from exc


def forget_connection(connection_id: str) -> None:
    """A 410 Gone: the client left, so its record goes. The store is made here rather than for every message: a
    message carrying the authorizer's context never reads a record, so its turn does without the store's module."""
    composition.connection_store().remove(connection_id)


def on_message(ctx: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    connection_id: str = ctx["connectionId"]
    notifier = WebSocketNotifier.for_api(str(ctx.get("domainName", "")), str(ctx.get("stage", "")), forget_connection)
    cfg = composition.settings()
    message_id: str | None = None
    try:
        sender = _authorized_principal(ctx)
        if sender is None:
            connection = composition.connection_store().get(connection_id)
            if connection is None:
                raise ForbiddenError("unknown connection: reconnect to authenticate")
            try:
                sender = Principal.parse(connection.principal).id
            except InvalidInputError:  # a record from before principals had kinds
                raise ForbiddenError("unknown connection: reconnect to authenticate") from None
        owner = owner_key(PrincipalKind.USER, sender)
        data = decode_json_object(frame_body(event), max_bytes=envelope_limit(cfg.max_text_bytes))
        if isinstance(data.get("message_id"), str) and len(data["message_id"]) <= 256:
            message_id = data["message_id"]  # known before validation: an invalid frame's error names it too
        data.pop("action", None)  # route selection key ($request.body.action), not part of the message
        payload = parse_payload(data, max_text_bytes=cfg.max_text_bytes)
        message_id = payload.message_id
        message = to_inbound(
            payload,
            channel=Channel.WEBSOCKET,
            sender=sender,
            owner=owner,
            # per_connection: unless the client names one, a user's WebSocket messages share one conversation,
            # which outlives the connection: a message resent after a reconnect lands where its first delivery did.
            default_conversation_id=uuid.uuid5(uuid.NAMESPACE_URL, f"ws:{sender}").hex,
            default_message_id=str(ctx.get("messageId") or "").replace("=", "") or None,
            max_text_bytes=cfg.max_text_bytes,
        )
        composition.rate_limiter().check(owner)
        if payload.attachments:  # after the rate limit: each one costs an S3 request
            message = composition.attachments().attach(message, payload.attachments)
        reply, fresh = composition.turn_runner().run_once(message)
    except ClawlineError as exc:
        count(MetricName.ERRORS if exc.http_status >= 500 else MetricName.REJECTED_INPUT)
        logger.info("message refused", extra={"error": exc.code})
        notifier.send(connection_id, {"type": "error", "message_id": message_id, **exc.to_body()})
        return OK
    except Exception:  # noqa: BLE001 - any failure still gets a typed frame; it is logged and counted
        count(MetricName.ERRORS)
        logger.exception("message failed")
        error = {"error": "internal_error", "message": "something went wrong on our side"}
        notifier.send(connection_id, {"type": "error", "message_id": message_id, **error})
        return OK
    notifier.send(connection_id, {"type": "reply", **reply.model_dump(mode="json", exclude={"trace"})})
    if fresh and reply.actions:  # after the reply: a device command never goes out before the user's answer
        from clawline.channels.actions import carry_out_for_bot  # only a reply with actions loads their code

        carry_out_for_bot(reply, composition.engine().bot.settings.publish_topics)
    return OK


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics(capture_cold_start_metric=True)
@traced_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    channel_dimensions(Channel.WEBSOCKET.value)
    composition.register_lambda_context(context)
    ctx: dict[str, Any] = event.get("requestContext") or {}
    route = ctx.get("routeKey")
    if route == "$connect":
        return on_connect(ctx)
    if route == "$disconnect":
        return on_disconnect(ctx)
    return on_message(ctx, event)
