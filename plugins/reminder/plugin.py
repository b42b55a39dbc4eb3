"""Reminders: a rule calls ``plugin: reminder`` and a one-time EventBridge Scheduler schedule
(``at(...)``, deleted after it runs) sends, at that time, a JSON event to ``target_arn`` (the stack's
reminder function, ``functions/reminder``, which appends it to the conversation once and pushes it on the user's
channel: ``clawline.channels.reminders``)::

    {"type": "clawline.reminder", "schedule", "bot", "channel", "conversation_id", "user", "text", "reply_topic",
     "due"}

When: the rule's ``in_minutes``, else the ``when_slot`` slot (an ISO 8601 time, in the bot's ``timezone`` when it
has none), else ``default_minutes``. The schedule's name derives from the message id, so a turn decided twice
(a lost race) creates it once: the second request gets ``ConflictException``, which counts as done.
One ``CreateSchedule`` request per reminder ($1.00 per million invocations; API requests are free).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from clawline.plugins.base import PluginResult, TurnContext


class ReminderPlugin:
    name: ClassVar[str] = "reminder"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        #: What the schedule invokes (a Lambda function, SQS queue or SNS topic ARN).
        target_arn: str = Field(pattern=r"^arn:aws[a-z-]*:(lambda|sqs|sns):[a-z0-9-]+:\d{12}:[A-Za-z0-9:_-]+$")
        #: The role EventBridge Scheduler assumes to invoke the target.
        role_arn: str = Field(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$")
        group: str = Field(default="default", pattern=r"^[0-9a-zA-Z-_.]{1,64}$")
        timezone: str = "UTC"
        #: The reminder's text (``{text}`` is what the user asked).
        message: str = "Reminder: {text}"
        when_slot: str | None = None
        default_minutes: int = Field(default=60, ge=1, le=525_600)
        reply: str = "OK, I'll remind you on {due}."
        reply_topic: str = "clawline/{thing}/out"
        #: An SQS queue for events the scheduler could not deliver to the target (after its retries).
        dead_letter_arn: str | None = Field(
            default=None, pattern=r"^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$"
        )
        #: The scheduler's retries of an invoke that failed (the target's own async retries come on top).
        max_retry_attempts: int = Field(default=10, ge=0, le=185)
        max_event_age_seconds: int = Field(default=3600, ge=60, le=86400)

    def __init__(self, config: ReminderPlugin.Config) -> None:
        self.config = config
        self.zone = ZoneInfo(config.timezone)

    async def setup(self) -> None:
        return None

    def due(self, ctx: TurnContext, params: Mapping[str, Any]) -> datetime | None:
        if params.get("in_minutes") is not None:
            return ctx.now + timedelta(minutes=float(params["in_minutes"]))
        value = ctx.slots.get(self.config.when_slot) if self.config.when_slot else None
        if value:
            try:
                when = datetime.fromisoformat(str(value))
            except ValueError:
                return None
            return when if when.tzinfo else when.replace(tzinfo=self.zone)
        return ctx.now + timedelta(minutes=self.config.default_minutes)

    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
        due = self.due(ctx, params)
        if due is None or due <= ctx.now:
            return PluginResult(data={"scheduled": False}, replies=["When should I remind you?"])
        local = due.astimezone(self.zone)
        m = ctx.message
        name = "clawline-" + hashlib.sha256(f"{ctx.bot}/{m.message_id}".encode()).hexdigest()[:40]
        event = {
            "type": "clawline.reminder",
            "schedule": name,
            "bot": ctx.bot,
            "channel": m.channel.value,
            "conversation_id": m.conversation_id,
            "user": m.sender,
            "owner": m.owner_key,
            "text": self.config.message.format(text=str(params.get("text") or m.text)),
            "reply_topic": self.config.reply_topic.replace("{thing}", m.sender) if m.channel.value == "mqtt" else None,
            "due": local.isoformat(),
        }
        target: dict[str, Any] = {
            "Arn": self.config.target_arn,
            "RoleArn": self.config.role_arn,
            "Input": json.dumps(event),
            "RetryPolicy": {
                "MaximumRetryAttempts": self.config.max_retry_attempts,
                "MaximumEventAgeInSeconds": self.config.max_event_age_seconds,
            },
        }
        if self.config.dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": self.config.dead_letter_arn}
        try:
            await ctx.aws("scheduler").create_schedule(
                Name=name,
                GroupName=self.config.group,
                ScheduleExpression=f"at({local.replace(tzinfo=None).isoformat(timespec='seconds')})",
                ScheduleExpressionTimezone=self.config.timezone,
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target=target,
                ClientToken=name[:64],
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConflictException":
                raise
        data = {"scheduled": True, "schedule": name, "due": event["due"]}
        return PluginResult(data=data, replies=[self.config.reply.format(due=local.strftime("%A %d %B at %H:%M"))])
