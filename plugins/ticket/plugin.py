"""Opens a ticket in the help desk and tells the user its id.

``api: zendesk`` posts ``{"ticket": {"subject", "comment": {"body"}, "requester": {"name"}, "tags"}}`` to
``{base_url}/api/v2/tickets.json`` and reads ``ticket.id``; ``api: jira`` posts ``{"fields": {"project": {"key"},
"summary", "description", "issuetype": {"name"}}}`` to ``{base_url}/rest/api/2/issue`` and reads ``key``. The
credentials (``user:token``, sent as HTTP Basic) come from a Secrets Manager secret, read once per container.
The ``Idempotency-Key`` header is the message id, so a turn decided twice (a lost race) does not open two
tickets where the help desk honours it (Zendesk does).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from clawline.plugins.base import PluginResult, TurnContext


class TicketError(RuntimeError):
    """The help desk did not create the ticket."""


class TicketPlugin:
    name: ClassVar[str] = "ticket"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        api: Literal["zendesk", "jira"] = "zendesk"
        base_url: str = Field(pattern=r"^https?://[^/]+")
        #: Secrets Manager secret holding "user:token".
        secret: str = Field(min_length=1)
        #: Jira only: the project key and issue type.
        project: str = ""
        issue_type: str = "Task"
        #: Subject (summary) template: {text} is the user's message, {sender} the user.
        subject: str = "Chat request from {sender}"
        #: A slot that receives the ticket id (optional).
        slot: str | None = None
        reply: str = "I opened ticket {id} for you; our team will get back to you."
        tags: list[str] = ["clawline"]
        timeout_ms: int = Field(default=3000, ge=100, le=20_000)

    def __init__(self, config: TicketPlugin.Config) -> None:
        self.config = config
        if config.api == "jira" and not config.project:
            raise ValueError("api: jira needs `project` (the project key)")

    async def setup(self) -> None:
        return None

    def request(self, ctx: TurnContext, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        base = self.config.base_url.rstrip("/")
        fields = {"text": ctx.message.text, "sender": ctx.message.sender}
        subject = str(params.get("subject") or self.config.subject.format_map(fields))
        history = "\n".join(f"user: {t.user_text}\nbot: {' / '.join(t.bot_texts)}" for t in ctx.recent_turns)
        body = f"{history}\nuser: {ctx.message.text}".strip()
        if self.config.api == "jira":
            issue = {
                "project": {"key": self.config.project},
                "summary": subject,
                "description": body,
                "issuetype": {"name": self.config.issue_type},
            }
            return f"{base}/rest/api/2/issue", {"fields": issue}
        ticket = {
            "subject": subject,
            "comment": {"body": body},
            "requester": {"name": ctx.message.sender},
            "tags": self.config.tags,
        }
        return f"{base}/api/v2/tickets.json", {"ticket": ticket}

    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
        url, payload = self.request(ctx, params)
        credentials = base64.b64encode((await ctx.secret(self.config.secret)).encode()).decode()
        response = await ctx.http.post(
            url,
            json_body=payload,
            headers={"Authorization": f"Basic {credentials}", "Idempotency-Key": ctx.message.message_id},
            timeout_s=self.config.timeout_ms / 1000,
        )
        if response.status not in (200, 201):
            raise TicketError(f"the help desk answered HTTP {response.status}")
        answer = response.json()
        ticket_id = answer["key"] if self.config.api == "jira" else answer["ticket"]["id"]
        slots = {self.config.slot: str(ticket_id)} if self.config.slot else {}
        data = {"id": ticket_id, "api": self.config.api}
        return PluginResult(data=data, slots=slots, replies=[self.config.reply.format(id=ticket_id)])
