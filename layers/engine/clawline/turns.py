"""Runs one turn for any channel: exactly once per message id, on one event loop per container when it needs one.

A turn that calls no plugin awaits nothing, so it is driven without an event loop and asyncio is never imported
(``clawline.event_loop``). The first turn that calls a plugin creates the loop; it is kept for the container's
life: a Lambda container handles one event at a time, so one persistent loop (not ``asyncio.run`` per event)
lets plugins keep loop-bound clients across warm invocations. The lock keeps a local, multi-threaded host
(the dev server, a test client) from entering the loop twice.

Exactly once, at no extra round trip: the conversation store writes each turn with one conditional write that
a message id can win only once in its conversation (``clawline.store.dynamodb``). So:

- a replay (redelivery, client retry, resend after a reconnect) finds its stored turn when the conversation
  is loaded and is answered with the stored reply, without running the engine again;
- the same message id with another text (or from another channel) is refused (``MessageIdReusedError``);
- a duplicate racing its first delivery loses the write, reloads, and is then answered like a replay;
- a lost acknowledgement (the function failed after storing, and its invocation is retried) is recognised by
  the invocation id stored with the turn, so an asynchronous channel sends the stored reply again.

What this does not give: a plugin ``action`` of a duplicate *in flight* may run twice (both deliveries decide
before either stores); only one turn is stored and one reply sent. Plugins with outside effects key them on
``ctx.message.message_id``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from clawline.conversation import Turn, TurnAlreadyStoredError
from clawline.engine import Engine
from clawline.errors import ConflictError
from clawline.event_loop import run
from clawline.messages import InboundMessage, OutboundMessage, Reply
from clawline.observability import MetricName, count, record_turn

if TYPE_CHECKING:
    from asyncio import AbstractEventLoop


class MessageIdReusedError(ConflictError):
    """The message id was already used for another message: permanent (a retry carries the same mismatch)."""

    retryable = False


def _same_text(stored: str, sent: str) -> bool:
    # The engine stores lone surrogates as U+FFFD (engine._storable): compare what was stored.
    return stored == sent or stored == "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in sent)


class TurnRunner:
    def __init__(self, engine: Engine, *, invocation_id: Callable[[], str | None] | None = None) -> None:
        self.engine = engine
        self._invocation_id = invocation_id or (lambda: None)
        self._loop: AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(self, message: InboundMessage) -> Reply:
        return self.run_once(message)[0]

    def run_once(self, message: InboundMessage) -> tuple[Reply, bool]:
        """The reply, and whether it still has to be delivered (False: a replay whose reply already went out).

        Channels that get duplicates from the infrastructure (IoT redelivery) use the flag to send the reply
        once; channels where the client asked again answer again with the first reply.
        """
        try:
            return self._run_engine(message), True
        except TurnAlreadyStoredError as exc:
            return self._replay(message, exc.turn)

    def _event_loop(self) -> AbstractEventLoop:
        """The container's event loop, created by the first turn that calls a plugin."""
        if self._loop is None:
            import asyncio

            self._loop = asyncio.new_event_loop()
        return self._loop

    def _replay(self, message: InboundMessage, stored: Turn) -> tuple[Reply, bool]:
        if stored.channel != message.channel or not _same_text(stored.user_text, message.text):
            count(MetricName.TAMPERED_REPLAY)
            raise MessageIdReusedError(
                "message_id was already used for a different message", details={"message_id": message.message_id}
            )
        count(MetricName.DUPLICATE_MESSAGES)
        reply = stored.reply or Reply(
            message_id=stored.message_id,
            conversation_id=message.conversation_id,
            messages=[OutboundMessage(text=text) for text in stored.bot_texts],
            intent=stored.intent,
        )
        # Stored by this very invocation (Lambda retrying it after a failure): its reply may never have left.
        undelivered = stored.invocation_id is not None and stored.invocation_id == self._invocation_id()
        return reply, undelivered

    def _run_engine(self, message: InboundMessage) -> Reply:
        with self._lock:
            started = time.perf_counter()
            reply = run(self.engine.handle(message), self._event_loop)
        # Recorded only when the engine stored a new turn, so a replayed message is not counted as a second turn.
        record_turn(message, reply, (time.perf_counter() - started) * 1000)
        return reply
