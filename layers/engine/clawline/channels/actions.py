"""Reply actions carried out by the channel adapters: the engine decides, the channel acts.

Every action kind ends up somewhere, never dropped:
- ``publish`` to ``mqtt`` is executed here: one iot-data Publish (QoS 1) to the rendered topic, which must be in
  the bot's ``settings.publish_topics`` (checked again here: a slot value may render a ``/``);
- every action (hand-off, reject, publish of any channel) is also delivered to the client in the reply's
  ``actions`` (HTTP response body, WebSocket ``reply`` frame, MQTT ``reply`` document), so a client sees a
  hand-off and a ``publish`` to ``websocket``/``http`` (addressed to a principal) reaches the client's app.

Carried out only for a fresh turn: a replayed message id gets the first reply back, not a second publish.
A failed publish does not fail the turn (it is stored and answered): it is logged and counted in ``Errors``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from clawline.messages import Action, Reply
from clawline.observability import MetricName, count, logger
from clawline.topics import TopicAllowList

Publish = Callable[[str, bytes], None]


@dataclass(frozen=True)
class Outcome:
    """What became of one action of the reply that a channel carries out."""

    type: str
    #: ``published``, ``refused`` (topic outside the allow-list), ``failed`` (the publish call failed) or
    #: ``delivered`` (the action travels to the client in the reply only).
    status: str
    topic: str | None = None


@lru_cache(maxsize=8)
def allow_list(patterns: tuple[str, ...]) -> TopicAllowList:
    return TopicAllowList(patterns)


def publish_document(reply: Reply, action: Action) -> bytes:
    """What a subscriber on the topic receives: the text and/or payload, and which turn sent it."""
    doc: dict[str, Any] = {"type": "publish", "conversation_id": reply.conversation_id, "message_id": reply.message_id}
    for key in ("text", "payload"):
        if key in action.params:
            doc[key] = action.params[key]
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def carry_out(reply: Reply, *, patterns: tuple[str, ...], publish: Publish) -> list[Outcome]:
    """Execute what a channel executes (MQTT publishes); the rest is delivered with the reply."""
    allowed = allow_list(patterns)
    outcomes: list[Outcome] = []
    for action in reply.actions:
        if action.type != "publish" or action.params.get("channel") != "mqtt":
            outcomes.append(Outcome(action.type, "delivered"))
            continue
        topic = str(action.params.get("topic") or "")
        if not allowed.allows(topic):
            count(MetricName.ERRORS)
            logger.warning("publish refused: topic not in settings.publish_topics", extra={"topic": topic[:256]})
            outcomes.append(Outcome(action.type, "refused", topic))
            continue
        try:
            publish(topic, publish_document(reply, action))
        except Exception:  # noqa: BLE001 - the turn is stored and answered; a lost publish is logged and counted
            count(MetricName.ERRORS)
            logger.exception("publish failed", extra={"topic": topic})
            outcomes.append(Outcome(action.type, "failed", topic))
            continue
        outcomes.append(Outcome(action.type, "published", topic))
    return outcomes


def iot_publisher() -> Publish:
    """iot-data Publish through the function's shared client (created at first use)."""
    from clawline.aws import client

    def publish(topic: str, payload: bytes) -> None:
        client("iot-data").publish(topic=topic, qos=1, payload=payload)

    return publish


def carry_out_for_bot(reply: Reply, publish_topics: list[str]) -> list[Outcome]:
    if not reply.actions:
        return []
    return carry_out(reply, patterns=tuple(publish_topics), publish=iot_publisher())
