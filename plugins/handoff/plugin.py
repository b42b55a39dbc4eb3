"""Hand-off to a human: a rule calls ``plugin: handoff``; the plugin notifies the team (an SNS topic, a chat
webhook such as Slack's or Teams' incoming webhooks, or both) with the conversation so far, answers the user,
adds a ``handoff`` action to the reply, and pauses the bot for this conversation: while the ``slot`` (a bool
slot the bot declares) is true, every message gets ``paused_reply`` (or nothing) and no rule runs.

The pause lives in the conversation's own state (no extra read per turn). ``release(store, ...)`` clears it (an
admin tool, or an admin route, calls it after the human is done); the release is a conditional write, so it
cannot overwrite a turn that raced it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from clawline.conversation import Turn
from clawline.messages import Action, Channel
from clawline.plugins.base import PluginResult, TurnContext
from clawline.ports import ConversationStore


class HandoffError(RuntimeError):
    """No notification reached the team."""


class HandoffPlugin:
    name: ClassVar[str] = "handoff"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        #: SNS topic ARN to publish the hand-off to.
        topic_arn: str = Field(default="", pattern=r"^(arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256})?$")
        #: Chat webhook URL (Slack/Teams-style: POST {"text": ...}).
        webhook_url: str = Field(default="", pattern=r"^(https?://.+)?$")
        #: The bool slot that pauses the bot while true.
        slot: str = "handoff_active"
        queue: str = "human"
        reply: str = "I'm handing you over to a colleague; they will answer here shortly."
        #: Answer while paused (empty: stay silent, the human answers).
        paused_reply: str = ""

        @model_validator(mode="after")
        def _somewhere(self) -> HandoffPlugin.Config:
            if not self.topic_arn and not self.webhook_url:
                raise ValueError("give `topic_arn`, `webhook_url` or both: the team must be told")
            return self

    def __init__(self, config: HandoffPlugin.Config) -> None:
        self.config = config

    async def setup(self) -> None:
        return None

    async def before_nlu(self, ctx: TurnContext) -> PluginResult | None:
        if ctx.slots.get(self.config.slot) is not True:
            return None
        replies = [self.config.paused_reply] if self.config.paused_reply else []
        return PluginResult(data={"paused": True}, replies=replies, stop=True)

    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
        m = ctx.message
        transcript = [{"user": t.user_text, "bot": list(t.bot_texts)} for t in ctx.recent_turns]
        note = str(params.get("note") or "")
        event = {
            "type": "clawline.handoff",
            "bot": ctx.bot,
            "queue": str(params.get("queue") or self.config.queue),
            "conversation_id": m.conversation_id,
            "user": m.sender,
            # Whose conversation it is (user:{sub}, thing:{name}): the release route takes that user or thing.
            "owner": m.owner_key,
            "channel": m.channel.value,
            "message_id": m.message_id,
            "text": m.text,
            "note": note,
            "transcript": transcript,
        }
        sent = []
        if self.config.topic_arn:
            await ctx.aws("sns").publish(
                TopicArn=self.config.topic_arn,
                Subject=f"Hand-off: {ctx.bot}",
                Message=json.dumps(event),
                MessageAttributes={"queue": {"DataType": "String", "StringValue": event["queue"]}},
            )
            sent.append("sns")
        if self.config.webhook_url:
            text = f"Hand-off from {ctx.bot} ({event['queue']}): user {m.sender} on {m.channel.value} said: {m.text}"
            response = await ctx.http.post(self.config.webhook_url, json_body={"text": text, "clawline": event})
            if response.status >= 300:
                if not sent:
                    raise HandoffError(f"the chat webhook answered HTTP {response.status}")
            else:
                sent.append("webhook")
        action = Action(type="handoff", params={"queue": event["queue"], "notified": sent})
        return PluginResult(
            data={"paused": True, "notified": sent},
            slots={self.config.slot: True},
            replies=[self.config.reply],
            actions=[action],
        )


def release(store: ConversationStore, conversation_id: str, owner: str, *, slot: str = "handoff_active") -> bool:
    """Give the conversation back to the bot. Returns False when it was not paused.

    The release is recorded as a turn (``user_text`` ``"(released)"``), written with the store's conditional
    save: a user turn racing it makes this raise ``ConflictError`` instead of being overwritten (retry it).
    """
    state = store.load(conversation_id, owner, window=1)
    if state.slots.get(slot) is not True:
        return False
    state.slots[slot] = False
    now = datetime.now(UTC)
    state.updated_at = now
    record = Turn(
        seq=state.version + 1,
        message_id=f"release-{conversation_id}-{state.version + 1}",
        channel=Channel.HTTP,
        user_text="(released)",
        bot_texts=[],
        created_at=now,
    )
    store.save(state, record)
    return True
