"""Dead-letter records for events that can never be processed (permanent errors on asynchronous triggers).

Raising would make Lambda retry an event that fails the same way every time and then drop it into the
OnFailure destination without saying why; recording it here keeps the reason with the event.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from clawline.observability import MetricName, count, logger


class DeadLetterSink(Protocol):
    def record(self, *, reason: str, error: str, event: dict[str, Any]) -> None: ...


class SqsDeadLetterSink:
    def __init__(self, sqs_client: Any, queue_url: str) -> None:
        self._client = sqs_client
        self._queue_url = queue_url

    def record(self, *, reason: str, error: str, event: dict[str, Any]) -> None:
        body = {"reason": reason, "error": error, "recorded_at": int(time.time()), "event": event}
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=json.dumps(body, default=str))
        count(MetricName.DEAD_LETTERS)
        logger.warning("event dead-lettered", extra={"reason": reason, "error": error})
