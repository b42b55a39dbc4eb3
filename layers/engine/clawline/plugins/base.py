"""What a plugin is, and what it sees and returns.

A plugin is a class with a ``name``, a pydantic ``Config`` model, a constructor taking that config, an
``async setup()`` run once per cold start, and any of five async hooks:

- ``before_nlu(ctx) -> PluginResult | None``: every message, before NLU (moderation, enrichment);
- ``before_rules(ctx) -> PluginResult | None``: every message, after NLU, before the rules (gates);
- ``action(ctx, params) -> PluginResult``: when a rule's ``plugin:`` action calls it;
- ``before_send(ctx, texts) -> PluginResult | None``: the decided reply texts, before they are saved and sent;
  the result's ``replies`` replace them one for one (translation);
- ``after_reply(ctx, reply) -> None``: after the turn is saved (analytics, notifications);
- ``summarize(ctx, previous, dropped) -> PluginResult | None``: a turn leaves the conversation's window; the
  result's ``text`` replaces the rolling summary (``clawline.summary``; None keeps the extractive one).

Examples
--------
>>> from pydantic import BaseModel, ConfigDict
>>> class Echo:
...     name = "echo"
...     class Config(BaseModel):
...         prefix: str = ">"
...     def __init__(self, config: "Echo.Config") -> None:
...         self.config = config
...     async def setup(self) -> None: ...
...     async def action(self, ctx: TurnContext, params: dict[str, object]) -> PluginResult:
...         return PluginResult(replies=[f"{self.config.prefix} {ctx.message.text}"])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel

from clawline.conversation import Turn
from clawline.messages import Action, InboundMessage, Reply
from clawline.nlu.types import NluResult
from clawline.plugins.services import NO_PERMISSIONS, PluginAws, PluginHttp, PluginServices, current_services

_NOTHING = PluginServices("unknown", NO_PERMISSIONS)
HOOKS = ("before_nlu", "before_rules", "action", "before_send", "after_reply", "summarize")


@dataclass(frozen=True)
class TurnContext:
    """A read-only view of the turn. Plugins change the conversation only through what they return."""

    message: InboundMessage
    bot: str
    slots: Mapping[str, Any]
    active_form: str | None
    last_intents: Sequence[str]
    #: The conversation's most recent turns (bounded window), oldest first.
    recent_turns: Sequence[Turn]
    #: None when NLU has not run for this message (yet).
    nlu: NluResult | None
    #: Data returned by plugins earlier in this turn, by plugin name.
    plugin_data: Mapping[str, Mapping[str, Any]]
    now: datetime
    #: What this plugin may reach (set by the runner per plugin, from its manifest).
    #: (The default, shared: services that allow nothing, for contexts built outside a plugin call.)
    services: PluginServices = field(default=_NOTHING, repr=False)

    @property
    def http(self) -> PluginHttp:
        """An HTTP client limited to the hosts in the plugin's manifest."""
        return self.services.http

    def aws(self, service: str) -> PluginAws:
        """A botocore client (awaitable operations) limited to the AWS actions in the plugin's manifest."""
        return self.services.aws(service)

    async def secret(self, name: str) -> str:
        """A Secrets Manager secret declared in the plugin's manifest."""
        return await self.services.secret(name)


@dataclass(frozen=True, kw_only=True)
class PluginResult:
    """What a hook may change. Everything is optional."""

    #: Exposed to later rules and templates as ``plugins.<name>``.
    data: Mapping[str, Any] = field(default_factory=dict)
    #: Slot values to set (validated against the bot's slots).
    slots: Mapping[str, Any] = field(default_factory=dict)
    #: Texts to send, after the rule's earlier replies.
    replies: Sequence[str] = ()
    #: Reject the message with this reason: the turn stops and the reason is the reply.
    reject: str | None = None
    #: Extra actions for the channel (publish, hand-off...).
    actions: Sequence[Action] = ()
    #: The message text for the rest of the turn (NLU, rules, storage): redaction, masking, translation.
    text: str | None = None
    #: The turn is handled: no further hooks, rules or fallback (the replies above are the answer).
    stop: bool = False


@runtime_checkable
class Plugin(Protocol):
    """The shape every plugin class has. Hooks are optional; the ones present must be ``async``."""

    name: ClassVar[str]
    Config: ClassVar[type[BaseModel]]

    async def setup(self) -> None: ...


class BasePlugin:
    """A base class for a plugin configured by a plain dict (the seed's plugin API), or for one with nothing to
    configure.

    The constructor keeps the bot's ``config:`` as ``self.config``: a ``dict`` checked against the manifest's
    config schema (``Config = None``), unless the subclass declares a pydantic ``Config`` model, which it then
    receives. ``setup`` does nothing. A subclass sets ``name`` and writes its hooks, or the seed's single
    ``async def process(self, message) -> {"action": "approve"} | {"action": "reject", "reason": ...}``, which
    runs on every message after NLU and gates the turn. ``self.http`` and ``self.aws(service)`` are the clients
    the manifest allows. Plugins do not have to inherit from it: the protocol is what is checked.

    >>> class Echo(BasePlugin):
    ...     name = "echo"
    ...     async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
    ...         return PluginResult(replies=[ctx.message.text])
    >>> isinstance(Echo({}), Plugin)
    True
    """

    name: ClassVar[str]
    #: None: the config is the plain dict from the bot (checked against the manifest's schema).
    Config: ClassVar[type[BaseModel] | None] = None

    def __init__(self, config: Any = None) -> None:
        self.config = {} if config is None else config

    async def setup(self) -> None:
        return None

    @property
    def http(self) -> PluginHttp:
        return current_services().http

    def aws(self, service: str) -> PluginAws:
        return current_services().aws(service)


class BeforeNlu(Protocol):
    async def before_nlu(self, ctx: TurnContext) -> PluginResult | None: ...


class ActionHook(Protocol):
    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult: ...


class BeforeRules(Protocol):
    async def before_rules(self, ctx: TurnContext) -> PluginResult | None: ...


class BeforeSend(Protocol):
    async def before_send(self, ctx: TurnContext, texts: Sequence[str]) -> PluginResult | None: ...


class Summarize(Protocol):
    async def summarize(self, ctx: TurnContext, previous: str | None, dropped: Turn) -> PluginResult | None: ...


class AfterReply(Protocol):
    async def after_reply(self, ctx: TurnContext, reply: Reply) -> None: ...
