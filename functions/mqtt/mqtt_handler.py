"""MQTT function: invoked asynchronously by the IoT topic rule on ``clawline/+/in``.

Lambda retries asynchronous events, so the outcome of each failure is chosen on purpose:
- permanent (bad payload, schema, spoofed identity, reused message id): an error reply to the device when
  it can be addressed, a dead-letter record, and a normal return (a retry would fail the same way);
- transient (throttling, timeouts, a turn already in progress): raise, so Lambda retries; the turn is
  idempotent on the message id, so a retry never answers twice.
This module never imports FastAPI.
"""

from __future__ import annotations

# First, before any framework: importing the engine's package holds the garbage collector off for the whole cold
# start, these imports included (clawline.gc_pause; a no-op outside Lambda).
import clawline  # noqa: F401

# isort: split
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from clawline import composition, snapstart
from clawline.aws import client
from clawline.channels import mqtt
from clawline.channels.payloads import decode_json_object, envelope_limit, parse_payload, to_inbound
from clawline.errors import ClawlineError, ConfigurationError, InvalidInputError, RateLimitedError
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
from clawline.principals import PrincipalKind, owner_key

if TYPE_CHECKING:
    from clawline.channels.deadletter import SqsDeadLetterSink

# Every supported library the engine and plugins may call (botocore, http.client, requests...) is traced.
trace_libraries()
# With SnapStart on, the snapshot is taken after the bot, its NLU and these services' models are loaded.
snapstart.register(services=("dynamodb", "iot-data", "kms", "sqs"))


@cache
def dead_letters() -> SqsDeadLetterSink:
    from clawline.channels.deadletter import SqsDeadLetterSink  # a failure's path: a delivered turn never needs it

    cfg = composition.settings()
    cfg.require("dead_letter_queue_url")
    assert cfg.dead_letter_queue_url is not None
    return SqsDeadLetterSink(client("sqs"), cfg.dead_letter_queue_url)


def publish(thing: str, message: dict[str, Any]) -> None:
    topic = mqtt.reply_topic(composition.settings().reply_topic, thing)
    client("iot-data").publish(topic=topic, qos=1, payload=mqtt.encode(message))


def process(event: dict[str, Any]) -> dict[str, Any]:
    cfg = composition.settings()
    rule_event = mqtt.parse_event(event)
    limit = envelope_limit(cfg.max_text_bytes, inline_attachment_bytes=cfg.attachment_inline_max_bytes)
    data = decode_json_object(mqtt.decode_payload(rule_event), max_bytes=limit)
    claimed = sorted(mqtt.IDENTITY_FIELDS & data.keys())
    if claimed:
        raise InvalidInputError(
            "identity comes from the topic; the payload may not claim one", details={"fields": claimed}
        )
    payload = parse_payload(data, max_text_bytes=cfg.max_text_bytes)
    if payload.message_id is None:
        raise InvalidInputError("message_id is required on MQTT: it makes redelivery safe")
    thing = rule_event.thing
    message = to_inbound(
        payload,
        channel=Channel.MQTT,
        sender=thing,
        # A paired device joins its user's conversations (clawline.store.pairings); any other is its own owner.
        owner=composition.device_owners().owner(thing),
        default_conversation_id=thing,
        max_text_bytes=cfg.max_text_bytes,
    )
    # The device's own bucket, paired or not: a device cannot spend its user's messages.
    composition.rate_limiter().check(owner_key(PrincipalKind.THING, thing))
    if payload.attachments:  # stored in the uploads bucket (a redelivery writes the same object again)
        message = composition.attachments().attach(message, payload.attachments)
    reply, fresh = composition.turn_runner().run_once(message)
    if not fresh:
        # IoT redelivery or a Lambda retry after the reply went out: the device already has this answer.
        return {"status": "replied", "message_id": reply.message_id}
    try:
        publish(rule_event.thing, {"type": "reply", **reply.model_dump(mode="json", exclude={"trace"})})
    except (BotoCoreError, ClientError) as exc:
        # The turn is stored and its idempotency record completed, so a retry would not publish again: keep the
        # undelivered reply in the dead-letter queue instead of losing it.
        dead_letters().record(reason="reply_undelivered", error=type(exc).__name__, event=event)
        status = "undelivered"
    else:
        status = "replied"
    # Once per turn (this call ran it), whether or not the reply itself got out.
    if reply.actions:
        from clawline.channels.actions import carry_out_for_bot  # only a reply with actions loads their code

        carry_out_for_bot(reply, composition.engine().bot.settings.publish_topics)
    return {"status": status, "message_id": reply.message_id}


def _message_id_of(event: dict[str, Any]) -> str | None:
    """Best effort: the message id of a payload we refused, so the device can match the error to its message."""
    try:
        data = decode_json_object(mqtt.decode_payload(mqtt.parse_event(event)), max_bytes=256 * 1024)
    except ClawlineError:
        return None
    value = data.get("message_id")
    return value if isinstance(value, str) and len(value) <= 128 else None


@logger.inject_lambda_context
@metrics.log_metrics(capture_cold_start_metric=True)
@traced_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    channel_dimensions(Channel.MQTT.value)
    composition.register_lambda_context(context)
    try:
        return process(event)
    except RateLimitedError:
        # A device over its limit is dropped (and counted by the limiter): a retry or a dead letter would only
        # amplify the flood it is sending.
        logger.info("message dropped: device over its rate limit", extra={"thing": mqtt.thing_from_event(event)})
        return {"status": "dropped", "error": RateLimitedError.code}
    except ClawlineError as exc:
        if exc.retryable or isinstance(exc, ConfigurationError):
            # Transient: Lambda retries; after the last retry the OnFailure destination keeps the event.
            # Misconfigured function: not the device's fault, so not a per-event dead letter either.
            count(MetricName.ERRORS)
            raise
        count(MetricName.REJECTED_INPUT)
        thing = mqtt.thing_from_event(event)
        if thing is not None:
            publish(thing, {"type": "error", "message_id": _message_id_of(event), **exc.to_body()})
        dead_letters().record(reason="permanent_error", error=exc.code, event=event)
        return {"status": "rejected", "error": exc.code}
