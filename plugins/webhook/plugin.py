"""Sends the turn to your endpoint and uses what it answers: the bridge to any backend.

Request: ``POST url`` with a JSON body (message id, conversation, sender, channel, text, intent, confidence,
entities, slots and the rule's ``params``), ``X-Clawline-Timestamp`` (Unix seconds) and
``X-Clawline-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"`` keyed by a Secrets Manager
secret (check it, and reject old timestamps, to know the call is ours and not replayed).
Response (JSON, all optional): ``{"replies": [...], "slots": {...}, "data": {...}}``.

A 5xx answer or a connection failure is retried with exponential backoff (``retries``); a 4xx is not (the
request itself is wrong). Everything runs within the plugin's time budget, and the client connects only to the
host of ``url`` (the manifest declares ``{config.url}``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from clawline.plugins.base import PluginResult, TurnContext
from clawline.plugins.network import NetworkRefusedError
from clawline.plugins.services import HttpResponse


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookError(RuntimeError):
    """The endpoint did not answer usably after the retries."""


class WebhookPlugin:
    name: ClassVar[str] = "webhook"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        url: str = Field(pattern=r"^https?://")
        #: Secrets Manager secret name of the HMAC key (empty: the request is not signed).
        secret: str = ""
        timeout_ms: int = Field(default=2000, ge=50, le=20_000)
        retries: int = Field(default=2, ge=0, le=5)
        backoff_ms: int = Field(default=100, ge=0, le=5000)

    def __init__(self, config: WebhookPlugin.Config) -> None:
        self.config = config

    async def setup(self) -> None:
        return None

    def body(self, ctx: TurnContext, params: Mapping[str, Any]) -> bytes:
        m, nlu = ctx.message, ctx.nlu
        payload = {
            "message_id": m.message_id,
            "conversation_id": m.conversation_id,
            "sender": m.sender,
            "channel": m.channel.value,
            "text": m.text,
            "intent": nlu.intent if nlu else None,
            "confidence": nlu.confidence if nlu else None,
            "entities": {e.entity: e.value for e in nlu.entities} if nlu else {},
            "slots": dict(ctx.slots),
            "params": dict(params),
        }
        return json.dumps(payload, separators=(",", ":"), default=str).encode()

    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
        body = self.body(ctx, params)
        headers = {"Content-Type": "application/json", "Idempotency-Key": ctx.message.message_id}
        if self.config.secret:
            timestamp = str(int(time.time()))
            headers["X-Clawline-Timestamp"] = timestamp
            headers["X-Clawline-Signature"] = signature(await ctx.secret(self.config.secret), timestamp, body)
        response = await self._send(ctx, body, headers)
        try:
            answer = response.json() if response.body else {}
        except ValueError as exc:
            raise WebhookError(f"the endpoint answered {response.status} with a body that is not JSON") from exc
        if not isinstance(answer, dict):
            raise WebhookError("the endpoint's JSON answer is not an object")
        replies = [str(r) for r in answer.get("replies") or []]
        slots = answer.get("slots") or {}
        data = {"status": response.status, **(answer.get("data") or {})}
        return PluginResult(replies=replies, slots=slots if isinstance(slots, dict) else {}, data=data)

    async def _send(self, ctx: TurnContext, body: bytes, headers: dict[str, str]) -> HttpResponse:
        last: str = "no attempt"
        for attempt in range(self.config.retries + 1):
            if attempt:
                await asyncio.sleep(self.config.backoff_ms / 1000 * 2 ** (attempt - 1))
            try:
                response = await ctx.http.post(
                    self.config.url, body=body, headers=headers, timeout_s=self.config.timeout_ms / 1000
                )
            except NetworkRefusedError:
                raise
            except Exception as exc:  # noqa: BLE001 - connection errors and timeouts (urllib3's) are retried
                last = type(exc).__name__
                continue
            if response.status < 500:
                if response.status >= 400:
                    raise WebhookError(f"the endpoint refused the request: HTTP {response.status}")
                return response
            last = f"HTTP {response.status}"
        raise WebhookError(f"the endpoint did not answer after {self.config.retries + 1} attempt(s): {last}")
