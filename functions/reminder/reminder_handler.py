"""Reminder function: invoked asynchronously by EventBridge Scheduler when a ``reminder`` plugin's schedule is due.

The event is the schedule's input (``clawline.channels.reminders.ReminderEvent``). The reminder is appended to
its conversation once, keyed on the schedule name, then pushed on the user's channel (WebSocket connections, the
thing's MQTT reply topic; HTTP clients read it in their history). Failures are chosen on purpose:
- permanent (not a reminder event): a dead-letter record and a normal return (a retry would fail the same way);
- transient (storage busy, a race that does not settle, @connections or iot-data failing): raise, so Lambda
  retries (same request id: a turn stored by an earlier try is pushed again, never stored twice); after the last
  retry the OnFailure destination keeps the event. If the scheduler cannot invoke at all, its own retries and
  dead-letter queue keep it.
This module never imports FastAPI and never loads the bot: it runs no turn.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from clawline import composition
from clawline.aws import client
from clawline.channels.deadletter import SqsDeadLetterSink
from clawline.channels.reminders import (
    MqttPusher,
    ReminderDelivery,
    ReminderEvent,
    WebSocketPusher,
    parse_event,
)
from clawline.channels.websocket import WebSocketNotifier
from clawline.errors import InvalidInputError
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

trace_libraries(["botocore"])


def push_websocket(event: ReminderEvent, frame: dict[str, Any]) -> int:
    cfg = composition.settings()
    cfg.require("websocket_endpoint")
    # Locally AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI wins (clawline.channels.websocket.management_endpoint).
    api = urlsplit(str(cfg.websocket_endpoint))
    connections = composition.connection_store()
    notifier = WebSocketNotifier.for_api(api.netloc, api.path.strip("/"), connections.remove)
    return WebSocketPusher(connections, notifier)(event, frame)


def push_mqtt(event: ReminderEvent, frame: dict[str, Any]) -> int:
    def publish(topic: str, payload: bytes) -> None:
        client("iot-data").publish(topic=topic, qos=1, payload=payload)

    return MqttPusher(publish, composition.settings().reply_topic)(event, frame)


def delivery() -> ReminderDelivery:
    """Built per invoke from the composition root's cached parts (nothing here is worth caching itself)."""
    return ReminderDelivery(
        composition.conversation_store(),
        {Channel.WEBSOCKET: push_websocket, Channel.MQTT: push_mqtt},
        window=composition.settings().conversation_window,
        invocation_id=composition.invocation_id,
    )


def dead_letter(reason: str, error: str, event: Any) -> None:
    cfg = composition.settings()
    cfg.require("dead_letter_queue_url")
    SqsDeadLetterSink(client("sqs"), str(cfg.dead_letter_queue_url)).record(
        reason=reason, error=error, event=event if isinstance(event, dict) else {"raw": event}
    )


@logger.inject_lambda_context
@metrics.log_metrics
@traced_handler
def handler(event: Any, context: Any) -> dict[str, Any]:
    composition.register_lambda_context(context)
    try:
        reminder = parse_event(event)
    except InvalidInputError as exc:
        channel_dimensions("reminder")
        count(MetricName.REJECTED_INPUT)
        dead_letter("permanent_error", exc.code, event)
        return {"status": "rejected", "error": exc.code}
    channel_dimensions(reminder.channel.value)
    result = delivery().deliver(reminder)
    if result.status == "delivered":
        count(MetricName.REMINDERS_DELIVERED)
    logger.info(
        "reminder " + result.status,
        extra={"schedule": reminder.schedule, "channel": reminder.channel.value, "pushed": result.pushed},
    )
    return {"status": result.status, "message_id": result.message_id, "pushed": result.pushed}
