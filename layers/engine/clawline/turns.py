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
import time
from typing import Any

from clawline.engine import Engine
from clawline.errors import ConflictError, RetryableError
from clawline.messages import InboundMessage, OutboundMessage, Reply
from clawline.observability import MetricName, count, record_turn
from clawline.store.dynamodb import TurnAlreadyStoredError


class MessageIdReusedError(ConflictError):
    """The message id was already used for another message: permanent (a retry carries the same mismatch)."""

    retryable = False


class TurnRunner:
    def __init__(
        self,
        engine: Engine,
        *,
        persistence_store: Any | None = None,
        ttl_seconds: int = 3600,
        reply_serializer: Any | None = None,
    ) -> None:
        self.engine = engine
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._ready = False
        # Per thread: did the last run() execute the turn (True) or return a stored reply (False)?
        self._fresh = threading.local()
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
                # The stored reply: plain JSON, or sealed like the conversation (clawline.security.idempotency).
                output_serializer=reply_serializer or PydanticSerializer(Reply),
            )(self._run)

    def register_lambda_context(self, context: Any) -> None:
        """Lets an in-progress record expire with the invocation, so a timed-out turn can be retried."""
        if self._config is not None and context is not None:
            self._config.register_lambda_context(context)

    def run(self, message: InboundMessage) -> Reply:
        return self.run_once(message)[0]

    def run_once(self, message: InboundMessage) -> tuple[Reply, bool]:
        """The reply, and whether this call ran the turn (False: a replay answered from the idempotency store).

        Channels that get duplicates from the infrastructure (IoT redelivery, Lambda's async retries) use the
        flag to send the reply once; channels where the client asked again answer again with the first reply.
        """
        self._fresh.value = False
        reply = self._run_idempotent(message)
        fresh = bool(self._fresh.value)
        if not fresh:
            count(MetricName.DUPLICATE_MESSAGES)
        return reply, fresh

    def _run_idempotent(self, message: InboundMessage) -> Reply:
        if self._idempotent is None:
            return self._run(message=message)
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        from clawline.security.idempotency import sealing_for

        try:
            with sealing_for(message.sender):
                result: Reply = self._idempotent(message=message)
        except IdempotencyValidationError as exc:
            count(MetricName.TAMPERED_REPLAY)
            raise MessageIdReusedError(
                "message_id was already used for a different message", details={"message_id": message.message_id}
            ) from exc
        except IdempotencyAlreadyInProgressError as exc:
            raise RetryableError(
                "this message is being processed, try again shortly", details={"message_id": message.message_id}
            ) from exc
        except IdempotencyPersistenceLayerError as exc:
            # The idempotency table itself failed (throttled past the SDK's retries): transient, retry later.
            raise RetryableError("storage is busy, try again", details={"message_id": message.message_id}) from exc
        return result

    def _run(self, message: InboundMessage) -> Reply:
        try:
            return self._run_engine(message)
        except TurnAlreadyStoredError as exc:
            # Answered before, but the acknowledgement was lost: answer again from the stored turn, never twice.
            self._fresh.value = True
            return Reply(
                message_id=message.message_id,
                conversation_id=message.conversation_id,
                messages=[OutboundMessage(text=text) for text in exc.turn.bot_texts],
                intent=exc.turn.intent,
                trace=["already_processed"],
            )

    def _run_engine(self, message: InboundMessage) -> Reply:
        self._fresh.value = True
        with self._lock:
            if not self._ready:
                self._loop.run_until_complete(self.engine.setup())
                self._ready = True
            started = time.perf_counter()
            reply = self._loop.run_until_complete(self.engine.handle(message))
        # Recorded here, inside the idempotent call, so a replayed message is not counted as a second turn.
        record_turn(message, reply, (time.perf_counter() - started) * 1000)
        return reply
