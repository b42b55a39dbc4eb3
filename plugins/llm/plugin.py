"""A generative answer when the rules have none: Amazon Bedrock's Converse API (``provider: bedrock``, model and
guardrail configurable) or any OpenAI-compatible ``/chat/completions`` endpoint (``provider: openai``).

Two limits are enforced, and counted (``LlmTokens`` per call; ``LlmCapped`` when a limit refuses a call):

- a **per-conversation token budget**: the tokens the conversation has used live in a number slot the bot
  declares (``budget_slot``); once ``token_budget`` is reached the plugin answers ``budget_reply`` without a call;
- a **per-turn cost cap**: from the configured prices, the prompt's estimated input cost decides how many output
  tokens the turn can afford (``maxTokens``); a prompt that alone exceeds the cap is not sent.

With ``summarize: true`` the plugin also writes the conversation's rolling summary (the ``summarize`` hook): one
short model call each time a turn leaves the window, counted in ``LlmTokens`` but not in the conversation's
token budget (the summary is the engine's, not a reply). Off by default: the engine's extractive summary costs
nothing.

Grounding: when the ``faq`` plugin ran earlier in the turn (``plugins.faq.candidates``), those question/answer
pairs go into the system prompt and the model is told to answer from them or say it does not know.
One model request per call; see the README for the cost.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clawline.conversation import Turn
from clawline.observability import MetricName, count, logger
from clawline.plugins.base import PluginResult, TurnContext


def estimate_tokens(text: str) -> int:
    """A deliberately high estimate (about 3 characters per token): the cap must hold before the model counts."""
    return math.ceil(len(text) / 3) + 4


def history(turns: Sequence[Turn], limit: int) -> list[tuple[str, str]]:
    """(role, text) pairs of the last ``limit`` turns, alternating user/assistant as Converse requires."""
    pairs: list[tuple[str, str]] = []
    for turn in list(turns)[-limit:]:
        pairs.append(("user", turn.user_text))
        if turn.bot_texts:
            pairs.append(("assistant", "\n".join(turn.bot_texts)))
        else:
            pairs.pop()  # a turn without an answer would break the alternation
    return pairs


class LlmError(RuntimeError):
    """The model answered nothing usable."""


class LlmPlugin:
    name: ClassVar[str] = "llm"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        provider: Literal["bedrock", "openai"] = "bedrock"
        model_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._:/-]+$")
        guardrail_id: str = ""
        guardrail_version: str = "DRAFT"
        #: provider openai: the API base URL (".../v1") and the Secrets Manager secret holding the API key.
        base_url: str = ""
        api_key_secret: str = ""
        system: str = "You are a helpful, concise assistant. Answer in at most three sentences."
        temperature: float = Field(default=0.2, ge=0, le=1)
        max_tokens: int = Field(default=300, ge=1, le=8192)
        history_turns: int = Field(default=4, ge=0, le=20)
        #: Tokens a conversation may use in total (needs ``budget_slot``, a number slot).
        token_budget: int = Field(default=20_000, ge=1)
        budget_slot: str = "llm_tokens"
        budget_reply: str = "I can't go into more detail here; a colleague can help you further."
        #: Prices in USD per 1,000 tokens, and the most one turn may cost.
        input_price: float = Field(default=0.0008, ge=0)
        output_price: float = Field(default=0.0032, ge=0)
        max_cost_per_turn: float = Field(default=0.002, gt=0)
        #: Write the rolling summary with the model (one call per turn that leaves the window).
        summarize: bool = False
        summary_tokens: int = Field(default=150, ge=16, le=1000)

        @model_validator(mode="after")
        def _endpoint(self) -> LlmPlugin.Config:
            if self.provider == "openai" and not self.base_url.startswith(("https://", "http://")):
                raise ValueError("provider openai needs base_url (https://.../v1)")
            return self

    def __init__(self, config: LlmPlugin.Config) -> None:
        self.config = config

    async def setup(self) -> None:
        return None

    def system_prompt(self, ctx: TurnContext) -> str:
        faq = ctx.plugin_data.get("faq") or {}
        candidates = list(faq.get("candidates") or [])
        if not candidates:
            return self.config.system
        facts = "\n".join(f"Q: {c['question']}\nA: {c['answer']} (source: {c['source']})" for c in candidates)
        return (
            f"{self.config.system}\nAnswer only from these facts; if they do not answer the question, say you "
            f"do not know.\n{facts}"
        )

    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
        used = int(ctx.slots.get(self.config.budget_slot) or 0)
        if used >= self.config.token_budget:
            count(MetricName.LLM_CAPPED)
            return PluginResult(data={"answered": False, "capped": "token_budget"}, replies=[self.config.budget_reply])
        system = self.system_prompt(ctx)
        turns = history(ctx.recent_turns, self.config.history_turns)
        prompt_tokens = estimate_tokens(system) + sum(estimate_tokens(t) for _, t in turns)
        prompt_tokens += estimate_tokens(ctx.message.text)
        affordable = (self.config.max_cost_per_turn - prompt_tokens * self.config.input_price / 1000) * 1000
        max_tokens = min(
            self.config.max_tokens,
            self.config.token_budget - used,
            math.floor(affordable / self.config.output_price) if self.config.output_price else self.config.max_tokens,
        )
        if max_tokens < 16:
            count(MetricName.LLM_CAPPED)
            return PluginResult(data={"answered": False, "capped": "cost"}, replies=[self.config.budget_reply])
        if self.config.provider == "bedrock":
            text, usage = await self._bedrock(ctx, system, turns, max_tokens)
        else:
            text, usage = await self._openai(ctx, system, turns, max_tokens)
        cost = usage[0] * self.config.input_price / 1000 + usage[1] * self.config.output_price / 1000
        total = usage[0] + usage[1]
        count(MetricName.LLM_TOKENS, total)
        logger.info("llm call", extra={"tokens_in": usage[0], "tokens_out": usage[1], "cost_usd": round(cost, 6)})
        data = {"answered": True, "tokens": total, "cost_usd": round(cost, 6), "grounded": "faq" in ctx.plugin_data}
        return PluginResult(data=data, replies=[text], slots={self.config.budget_slot: used + total})

    async def summarize(self, ctx: TurnContext, previous: str | None, dropped: Turn) -> PluginResult | None:
        """The rolling summary updated with the turn that leaves the window; None leaves the engine's own."""
        if not self.config.summarize:
            return None
        system = (
            "Update the running summary of a conversation with one more exchange. Keep what the user told "
            "(names, choices, numbers, open requests). At most 500 characters. Answer with the summary only."
        )
        exchange = (
            f"Summary so far: {previous or '(none)'}\nUser: {dropped.user_text}\nBot: {' '.join(dropped.bot_texts)}"
        )
        prompt_cost = (estimate_tokens(system) + estimate_tokens(exchange)) * self.config.input_price / 1000
        if prompt_cost + self.config.summary_tokens * self.config.output_price / 1000 > self.config.max_cost_per_turn:
            count(MetricName.LLM_CAPPED)
            return None
        asked = dataclasses.replace(ctx, message=ctx.message.model_copy(update={"text": exchange}))
        call = self._bedrock if self.config.provider == "bedrock" else self._openai
        text, usage = await call(asked, system, [], self.config.summary_tokens)
        count(MetricName.LLM_TOKENS, usage[0] + usage[1])
        return PluginResult(text=text)

    async def _bedrock(
        self, ctx: TurnContext, system: str, turns: list[tuple[str, str]], max_tokens: int
    ) -> tuple[str, tuple[int, int]]:
        request: dict[str, Any] = {
            "modelId": self.config.model_id,
            "system": [{"text": system}],
            "messages": [{"role": r, "content": [{"text": t}]} for r, t in turns]
            + [{"role": "user", "content": [{"text": ctx.message.text}]}],
            "inferenceConfig": {"maxTokens": max_tokens, "temperature": self.config.temperature},
        }
        if self.config.guardrail_id:
            request["guardrailConfig"] = {
                "guardrailIdentifier": self.config.guardrail_id,
                "guardrailVersion": self.config.guardrail_version,
            }
        response = await ctx.aws("bedrock-runtime").converse(**request)
        parts = response["output"]["message"]["content"]
        text = "".join(p.get("text", "") for p in parts).strip()
        if not text:
            raise LlmError(f"the model answered no text (stopReason {response.get('stopReason')})")
        usage = response.get("usage") or {}
        return text, (int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0)))

    async def _openai(
        self, ctx: TurnContext, system: str, turns: list[tuple[str, str]], max_tokens: int
    ) -> tuple[str, tuple[int, int]]:
        headers = {}
        if self.config.api_key_secret:
            headers["Authorization"] = f"Bearer {await ctx.secret(self.config.api_key_secret)}"
        body = {
            "model": self.config.model_id,
            "messages": [{"role": "system", "content": system}]
            + [{"role": r, "content": t} for r, t in turns]
            + [{"role": "user", "content": ctx.message.text}],
            "max_tokens": max_tokens,
            "temperature": self.config.temperature,
        }
        response = await ctx.http.post(
            self.config.base_url.rstrip("/") + "/chat/completions", json_body=body, headers=headers, timeout_s=20
        )
        if response.status != 200:
            raise LlmError(f"the endpoint answered HTTP {response.status}")
        answer = response.json()
        text = str(answer["choices"][0]["message"].get("content") or "").strip()
        if not text:
            raise LlmError("the endpoint answered no text")
        usage = answer.get("usage") or {}
        return text, (int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)))
