"""Runs one turn for any channel: idempotent on the message id, on one event loop per container.

A Lambda container handles one event at a time, so one persistent loop (not ``asyncio.run`` per event)
lets plugins keep loop-bound clients across warm invocations. The lock keeps a local, multi-threaded host
(the dev server, a test client) from entering the loop twice.

Idempotency (Powertools, DynamoDB persistence) is keyed on ``sender`` + ``message_id``: a replay returns the
first reply without running the engine again; the same id with another payload is refused.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from clawline.engine import Engine
from clawline.errors import ConflictError, RetryableError
from clawline.messages import InboundMessage, Reply
from clawline.observability import MetricName, count


class TurnRunner:
    def __init__(self, engine: Engine, *, persistence_store: Any | None = None, ttl_seconds: int = 3600) -> None:
        self.engine = engine
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._ready = False
        self._config: Any = None
        self._idempotent: Any = None
        if persistence_store is not None:
            from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
            from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer

            self._config = IdempotencyConfig(
                event_key_jmespath="[sender, message_id]",
                payload_validation_jmespath="[conversation_id, text, channel]",
                expires_after_seconds=ttl_seconds,
                raise_on_no_idempotency_key=True,
            )
            self._idempotent = idempotent_function(
                data_keyword_argument="message",
                persistence_store=persistence_store,
                config=self._config,
                output_serializer=PydanticSerializer(Reply),
            )(self._run)

    def register_lambda_context(self, context: Any) -> None:
        """Lets an in-progress record expire with the invocation, so a timed-out turn can be retried."""
        if self._config is not None and context is not None:
            self._config.register_lambda_context(context)

    def run(self, message: InboundMessage) -> Reply:
        if self._idempotent is None:
            return self._run(message=message)
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyValidationError,
        )

        try:
            result: Reply = self._idempotent(message=message)
        except IdempotencyValidationError as exc:
            count(MetricName.TAMPERED_REPLAY)
            raise ConflictError(
                "message_id was already used for a different message", details={"message_id": message.message_id}
            ) from exc
        except IdempotencyAlreadyInProgressError as exc:
            raise RetryableError(
                "this message is being processed, try again shortly", details={"message_id": message.message_id}
            ) from exc
        return result

    def _run(self, message: InboundMessage) -> Reply:
        with self._lock:
            if not self._ready:
                self._loop.run_until_complete(self.engine.setup())
                self._ready = True
            return self._loop.run_until_complete(self.engine.handle(message))
