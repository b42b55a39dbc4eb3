"""What a plugin is, and what it sees and returns.

A plugin is a class with a ``name``, a pydantic ``Config`` model, a constructor taking that config, an
``async setup()`` run once per cold start, and any of three async hooks:

- ``before_nlu(ctx) -> PluginResult | None``: every message, before NLU (moderation, enrichment);
- ``action(ctx, params) -> PluginResult``: when a rule's ``plugin:`` action calls it;
- ``after_reply(ctx, reply) -> None``: after the turn is saved (analytics, notifications).

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

from pydantic import BaseModel, ConfigDict

from clawline.conversation import Turn
from clawline.messages import Action, InboundMessage, Reply
from clawline.nlu.types import NluResult

HOOKS = ("before_nlu", "action", "after_reply")


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


@runtime_checkable
class Plugin(Protocol):
    """The shape every plugin class has. Hooks are optional; the ones present must be ``async``."""

    name: ClassVar[str]
    Config: ClassVar[type[BaseModel]]

    async def setup(self) -> None: ...


class BasePlugin:
    """An optional base class for a plugin with nothing to configure or prepare.

    It gives the empty ``Config`` (unknown keys are errors), a constructor that keeps the config as
    ``self.config``, and a ``setup`` that does nothing; a subclass sets ``name`` and writes its hooks, and may
    override any of the three. Plugins do not have to inherit from it: the protocol is what is checked.

    >>> class Echo(BasePlugin):
    ...     name = "echo"
    ...     async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
    ...         return PluginResult(replies=[ctx.message.text])
    >>> isinstance(Echo(Echo.Config()), Plugin)
    True
    """

    name: ClassVar[str]

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, config: BaseModel) -> None:
        self.config = config

    async def setup(self) -> None:
        return None


class BeforeNlu(Protocol):
    async def before_nlu(self, ctx: TurnContext) -> PluginResult | None: ...


class ActionHook(Protocol):
    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult: ...


class AfterReply(Protocol):
    async def after_reply(self, ctx: TurnContext, reply: Reply) -> None: ...
