"""Run stories against a target: the in-process engine, or a running HTTP / WebSocket / MQTT endpoint.

Every channel takes the same client payload ``{"text", "conversation_id", "message_id"}``; remote targets
read whatever the channel reports back: HTTP the texts and intent, WebSocket and MQTT a ``{"type": "reply"}``
message with the whole reply (WebSocket splits one over 32 KB into ``chunk`` frames, joined here).
An expectation the target cannot observe is reported as skipped, never as passed.

A story written for one channel (``channel: mqtt``, or a step's ``channel``) runs only on a target of that
channel; on another remote target it is reported as not applicable (``test``, the default, runs anywhere). A
target that answers "too many messages" (HTTP 429, a ``rate_limited`` error frame) is waited for as long as its
``Retry-After`` says, within ``RATE_LIMIT_BUDGET_SECONDS`` per step, then the message is sent again.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from clawline.messages import Channel, InboundMessage
from clawline.stories.models import Step, Story

#: Channels a story can be written for that any target can run (they name no transport).
ANY_CHANNEL = frozenset({"test", "cli"})
#: How long one step may wait in total for a rate-limited target before it fails.
RATE_LIMIT_BUDGET_SECONDS = 60.0


class RateLimitedError(Exception):
    """The target refused the message for now; ``retry_after`` is how many seconds it asked to wait."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after:g} s")
        self.retry_after = retry_after


def retry_after_seconds(value: object, default: float = 1.0) -> float:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP-date (RFC 9110)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0.0, float(value))
    if isinstance(value, str) and value.strip():
        text = value.strip()
        if text.isdigit():
            return float(text)
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return default
        return max(0.0, when.timestamp() - time.time())
    return default


def _error_frame(body: Mapping[str, Any]) -> None:
    """Raise for a WebSocket / MQTT ``{"type": "error"}`` frame (``RateLimitedError`` when it asks to wait)."""
    if body.get("error") == "rate_limited":
        details = body.get("details")
        wait = details.get("retry_after_seconds") if isinstance(details, Mapping) else None
        raise RateLimitedError(retry_after_seconds(wait if wait is not None else body.get("retry_after_seconds")))
    raise RuntimeError(f"{body.get('error')}: {body.get('message')}")


@dataclass(frozen=True)
class Observed:
    """What a target reports for one message (None: the target does not report it)."""

    texts: list[str]
    intent: str | None = None
    intent_known: bool = True
    slots: Mapping[str, Any] | None = None
    actions: list[str] | None = None
    trace: list[str] | None = None


class Target(Protocol):
    name: str

    async def send(self, story: Story, step: Step, conversation_id: str, message_id: str) -> Observed: ...


@dataclass
class StoryResult:
    story: Story
    target: str
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: Why the story was not run on this target (written for another channel); None when it ran.
    not_applicable: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


class EngineTarget:
    """The in-process engine (anything with ``async handle(InboundMessage) -> Reply``)."""

    name = "engine"

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    async def send(self, story: Story, step: Step, conversation_id: str, message_id: str) -> Observed:
        channel = Channel(step.channel or story.channel)
        message = InboundMessage(
            message_id=message_id,
            channel=channel,
            conversation_id=conversation_id,
            sender=story.sender,
            text=step.user,
            metadata=dict(step.metadata),
        )
        reply = await self.engine.handle(message)
        return Observed(
            texts=reply.texts,
            intent=reply.intent,
            slots=reply.slots,
            actions=[a.type for a in reply.actions],
            trace=reply.trace,
        )


def _observed_from_json(body: Mapping[str, Any]) -> Observed:
    messages = body.get("replies", body.get("messages", []))
    texts = [m.get("text", "") if isinstance(m, Mapping) else str(m) for m in messages]
    actions = body.get("actions")
    return Observed(
        texts=texts,
        intent=body.get("intent"),
        intent_known="intent" in body,
        slots=body.get("slots"),
        actions=[a.get("type", "") for a in actions] if isinstance(actions, list) else None,
        trace=body.get("trace"),
    )


class HttpTarget:
    """``POST {base_url}/v1/messages`` with a bearer token."""

    name = "http"

    def __init__(
        self, base_url: str, token: str | None = None, *, timeout: float = 30.0, transport: Any = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout = timeout
        #: An httpx transport (tests pass ``httpx.MockTransport``); None: the network.
        self.transport = transport

    async def send(self, story: Story, step: Step, conversation_id: str, message_id: str) -> Observed:
        import httpx

        async with httpx.AsyncClient(timeout=self.timeout, transport=self.transport) as client:
            response = await client.post(
                f"{self.base_url}/v1/messages",
                json={"text": step.user, "conversation_id": conversation_id, "message_id": message_id},
                headers=self.headers,
            )
        if response.status_code == 429:
            raise RateLimitedError(retry_after_seconds(response.headers.get("Retry-After")))
        response.raise_for_status()
        return _observed_from_json(response.json())


class WebSocketTarget:
    """One connection per story; each message is a JSON frame, the reply the next frame for its message id."""

    name = "websocket"

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 30.0) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout
        self._connections: dict[str, Any] = {}

    async def send(self, story: Story, step: Step, conversation_id: str, message_id: str) -> Observed:
        import websockets

        connection = self._connections.get(conversation_id)
        if connection is None:
            # The WebSocket API's authorizer reads the token from its identity source, the `token` query parameter.
            url = self.url
            if self.token:
                from urllib.parse import urlencode

                url = f"{url}{'&' if '?' in url else '?'}{urlencode({'token': self.token})}"
            connection = await websockets.connect(url)
            self._connections[conversation_id] = connection
        frame = {"text": step.user, "conversation_id": conversation_id, "message_id": message_id}
        await connection.send(json.dumps(frame))
        chunks: dict[str, dict[int, str]] = {}
        while True:
            body = json.loads(await asyncio.wait_for(connection.recv(), self.timeout))
            if body.get("type") == "chunk":
                # A message over the 32 KB frame limit arrives as numbered pieces of its JSON text.
                parts = chunks.setdefault(body["id"], {})
                parts[int(body["seq"])] = body["data"]
                if len(parts) < int(body["total"]):
                    continue
                body = json.loads("".join(parts[i] for i in range(len(parts))))
            if body.get("message_id") != message_id:
                continue
            if body.get("type") == "error":
                _error_frame(body)
            return _observed_from_json(body)

    async def close(self) -> None:
        for connection in self._connections.values():
            await connection.close()
        self._connections.clear()


class MqttTarget:
    """Publishes to ``clawline/{thing}/in`` and waits for the reply on ``clawline/{thing}/out``."""

    name = "mqtt"

    def __init__(self, host: str, port: int = 1883, *, thing: str = "story-device", timeout: float = 30.0) -> None:
        self.host, self.port, self.thing, self.timeout = host, port, thing, timeout

    async def send(self, story: Story, step: Step, conversation_id: str, message_id: str) -> Observed:
        return await asyncio.to_thread(self._send_blocking, step.user, conversation_id, message_id)

    def _send_blocking(self, text: str, conversation_id: str, message_id: str) -> Observed:
        import queue

        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        replies: queue.Queue[dict[str, Any]] = queue.Queue()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{self.thing}-{uuid.uuid4().hex[:8]}")
        client.on_message = lambda _c, _u, msg: replies.put(json.loads(msg.payload))
        client.connect(self.host, self.port)
        client.subscribe(f"clawline/{self.thing}/out", qos=1)
        client.loop_start()
        try:
            payload = {"text": text, "conversation_id": conversation_id, "message_id": message_id}
            client.publish(f"clawline/{self.thing}/in", json.dumps(payload), qos=1)
            deadline = time.monotonic() + self.timeout
            while True:
                body = replies.get(timeout=max(0.0, deadline - time.monotonic()))
                if body.get("message_id") != message_id:
                    continue
                if body.get("type") == "error":
                    _error_frame(body)
                return _observed_from_json(body)
        finally:
            client.loop_stop()
            client.disconnect()


def not_applicable(target: Target, story: Story) -> str | None:
    """Why ``story`` cannot run on ``target`` (it is written for another channel), or None."""
    if target.name == "engine":
        return None  # the in-process engine takes any channel
    for channel in [story.channel, *(s.channel for s in story.steps if s.channel)]:
        if channel not in ANY_CHANNEL and channel != target.name:
            return f"written for the {channel} channel, the target is {target.name}"
    return None


async def _send_waiting(
    send: Callable[[], Awaitable[Observed]],
    *,
    budget: float = RATE_LIMIT_BUDGET_SECONDS,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Observed:
    waited = 0.0
    while True:
        try:
            return await send()
        except RateLimitedError as exc:
            if waited + exc.retry_after > budget:
                raise
            await sleep(exc.retry_after)
            waited += exc.retry_after


async def run_story(
    target: Target,
    story: Story,
    *,
    conversation_id: str | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> StoryResult:
    """Run one story in a fresh conversation (a new id each run, so runs never see each other's state)."""
    result = StoryResult(story, target.name)
    result.not_applicable = not_applicable(target, story)
    if result.not_applicable is not None:
        return result
    conversation_id = conversation_id or f"story-{uuid.uuid4().hex[:12]}"
    started = time.perf_counter()
    for n, step in enumerate(story.steps, start=1):
        message_id = f"{conversation_id}-{n}"
        try:
            send = functools.partial(target.send, story, step, conversation_id, message_id)
            observed = await _send_waiting(send, sleep=sleep)
        except Exception as exc:  # noqa: BLE001 - a story reports the failure instead of stopping the run
            result.failures.append(f"step {n} ({step.user!r}): {type(exc).__name__}: {exc}")
            break
        check_step(result, n, step, observed)
    result.seconds = time.perf_counter() - started
    return result


def check_step(result: StoryResult, n: int, step: Step, got: Observed) -> None:
    where = f"step {n} ({step.user!r})"
    if step.expects_intent:
        if not got.intent_known:
            result.skipped.append(f"{where}: intent not reported by {result.target}")
        elif got.intent != step.intent:
            result.failures.append(f"{where}: intent {got.intent!r}, expected {step.intent!r}")
    if isinstance(step.bot, str) and step.bot not in got.texts:
        result.failures.append(f"{where}: bot said {got.texts!r}, expected a message {step.bot!r}")
    elif isinstance(step.bot, list) and got.texts != step.bot:
        result.failures.append(f"{where}: bot said {got.texts!r}, expected {step.bot!r}")
    if step.slots is not None:
        if got.slots is None:
            result.skipped.append(f"{where}: slots not reported by {result.target}")
        else:
            wrong = {k: got.slots.get(k) for k, v in step.slots.items() if got.slots.get(k) != v}
            # `slots: {}` expects no slot at all (a subset check would accept anything).
            if wrong or (not step.slots and got.slots):
                result.failures.append(f"{where}: slots {wrong!r}, expected {step.slots!r}")
    if step.actions is not None:
        if got.actions is None:
            result.skipped.append(f"{where}: actions not reported by {result.target}")
        elif got.actions != step.actions:
            result.failures.append(f"{where}: actions {got.actions!r}, expected {step.actions!r}")
    if step.rules is not None:
        if got.trace is None:
            result.skipped.append(f"{where}: rules not reported by {result.target}")
        else:
            missing = [r for r in step.rules if r not in got.trace]
            if missing:
                result.failures.append(f"{where}: rules {missing!r} did not fire (trace {got.trace!r})")


async def run_stories(target: Target, stories: list[Story]) -> list[StoryResult]:
    results = [await run_story(target, story) for story in stories]
    close = getattr(target, "close", None)
    if close is not None:
        await close()
    return results
