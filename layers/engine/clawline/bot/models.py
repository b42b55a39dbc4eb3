"""The bot definition format, as pydantic models. Every model forbids unknown fields, so a typo is an error.

A bot is ``bots/<name>/bot.yaml`` (plus the files it ``include``s). See docs/bots.md for the reference.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    field_validator,
)

from clawline.regexes import check_patterns

Name = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]


class _Model(BaseModel):
    # defer_build: the validators are built when a bot is first loaded, not when a function imports the engine
    # (the authorizer imports it and never loads a bot).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Mode(StrEnum):
    RULES = "rules"
    NLU = "nlu"
    HYBRID = "hybrid"


class RateLimitSettings(_Model):
    """Per-caller token bucket: ``capacity`` messages at once, refilled at ``refill_per_second``."""

    capacity: int = Field(ge=1, le=100_000)
    refill_per_second: float = Field(gt=0, le=10_000)


class BotSettings(_Model):
    #: ``rules``: NLU runs only for a ``classify`` action or a form; ``nlu``: on every message; ``hybrid``:
    #: only when a candidate rule or the fallback needs it.
    mode: Mode = Mode.HYBRID
    language: Annotated[str, StringConstraints(min_length=2, max_length=16)] = "en"
    #: Response sent when no rule matched (and, in nlu/hybrid mode, no intent response applies).
    fallback: Name = "fallback"
    #: In nlu/hybrid mode, a message no rule handled gets the response named like its intent, if any.
    intent_responses: bool = True
    #: Response sent when a plugin called by a rule fails or times out (default: the fallback).
    plugin_error: Name | None = None
    #: Time budget of one plugin hook call, and of one plugin's ``setup()``.
    plugin_timeout_ms: int = Field(default=1000, ge=1, le=25_000)
    plugin_setup_timeout_ms: int = Field(default=10_000, ge=1, le=60_000)
    #: IANA time zone for ``hour``/``weekday`` in rules (``now`` is always UTC).
    timezone: str = "UTC"
    #: Files with more definitions, relative to bot.yaml (glob patterns allowed).
    include: list[str] = []
    #: Per-caller message rate for this bot; overrides the function's CLAWLINE_RATE_LIMIT_* defaults.
    rate_limit: RateLimitSettings | None = None
    #: Intent classifier: ``linear`` (numpy, the default) or ``embedding`` (MiniLM; needs the NLU embedding
    #: layer). Unset: the deployment's CLAWLINE_NLU_BACKEND. ``clawline train`` recommends one (docs/nlu.md).
    nlu_backend: Literal["linear", "embedding"] | None = None


class Example(_Model):
    text: Text


class Intent(_Model):
    examples: Annotated[list[Text], Field(min_length=1)]
    description: str | None = None


class EntityDefinition(_Model):
    #: Regular expressions (Python ``re`` syntax) whose match is the entity's value.
    regex: Annotated[list[Text], AfterValidator(check_patterns)] = []
    #: Known values, matched as whole words, case-insensitively.
    lookup: list[Text] = []
    #: Canonical value -> other spellings, which are extracted as the canonical value.
    synonyms: dict[Text, list[Text]] = {}


class SlotType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    BOOL = "bool"
    ANY = "any"


class Slot(_Model):
    type: SlotType = SlotType.TEXT
    #: Fill this slot from this entity whenever NLU extracts it during a form.
    entity: Name | None = None
    #: When the engine asked for this slot, take the whole message as its value.
    from_text: bool = False
    #: Allowed values (compared case-insensitively, stored as written here).
    values: list[str] | None = None
    #: Response that asks for this slot in a form.
    ask: Name | None = None
    #: Response when the user's answer is not one of ``values`` (default: ``ask`` again).
    invalid: Name | None = None
    initial: Any = None


class ResponseVariant(_Model):
    text: Text
    buttons: list[Annotated[str, StringConstraints(min_length=1, max_length=256)]] = []


def _variant(value: Any) -> Any:
    return {"text": value} if isinstance(value, str) else value


ResponseVariants = Annotated[list[ResponseVariant], Field(min_length=1)]


# ----- actions: each is a one-key mapping in a rule's ``then`` list ------------------------------------------


class ReplyAction(_Model):
    reply: Name


class SetSlotAction(_Model):
    #: slot -> value; string values are templates (``"{entities.size}"``).
    set_slot: Annotated[dict[Name, Any], Field(min_length=1)]


class ClearSlotAction(_Model):
    clear_slot: Name | Annotated[list[Name], Field(min_length=1)]


class PluginCall(_Model):
    name: Name
    params: dict[str, Any] = {}


class PluginAction(_Model):
    plugin: Name | PluginCall


class ClassifyAction(_Model):
    classify: Literal[True]


class HandoffParams(_Model):
    queue: Name = "human"
    #: Response sent to the user with the hand-off (optional).
    response: Name | None = None
    note: str | None = None


class HandoffAction(_Model):
    handoff: HandoffParams | Literal[True]


class RejectParams(_Model):
    reason: Text


class RejectAction(_Model):
    reject: RejectParams | Text


class PublishParams(_Model):
    #: The channel the message goes out on; ``topic`` (MQTT) or ``to`` (a principal) say where.
    channel: Literal["mqtt", "websocket", "http"]
    topic: str | None = None
    to: str | None = None
    text: str | None = None
    response: Name | None = None
    payload: dict[str, Any] = {}


class PublishAction(_Model):
    publish: PublishParams


class EndFormAction(_Model):
    end_form: Literal[True]


ACTION_KEYS = (
    "reply",
    "set_slot",
    "clear_slot",
    "plugin",
    "classify",
    "handoff",
    "reject",
    "publish",
    "end_form",
)


def _action_key(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return next(iter(type(value).model_fields))
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if key in ACTION_KEYS else None
    return None


Action = Annotated[
    Annotated[ReplyAction, Tag("reply")]
    | Annotated[SetSlotAction, Tag("set_slot")]
    | Annotated[ClearSlotAction, Tag("clear_slot")]
    | Annotated[PluginAction, Tag("plugin")]
    | Annotated[ClassifyAction, Tag("classify")]
    | Annotated[HandoffAction, Tag("handoff")]
    | Annotated[RejectAction, Tag("reject")]
    | Annotated[PublishAction, Tag("publish")]
    | Annotated[EndFormAction, Tag("end_form")],
    Discriminator(
        _action_key,
        custom_error_type="unknown_action",
        custom_error_message="an action is a mapping with exactly one of the keys: " + ", ".join(ACTION_KEYS),
    ),
]


class Rule(_Model):
    name: Name
    #: Higher runs first; equal priorities keep file order.
    priority: int = 0
    #: A CEL expression; see docs/bots.md for the variables.
    when: Annotated[str, StringConstraints(min_length=1, max_length=4000)] = "true"
    #: Slots this rule needs: missing ones are asked for (a multi-turn form) before ``then`` runs.
    require: list[Name] = []
    then: list[Action] = []
    #: Stop evaluating further rules once this one matched.
    stop: bool = True
    #: While a form is active, only interrupting rules (help, cancel, hand-off...) are evaluated.
    interrupt: bool = False


class PluginSpec(_Model):
    """``{module: "plugins.sample", class: "SamplePlugin", config: {...}}`` or ``{entry_point: "name"}``."""

    module: str | None = None
    class_: str | None = Field(default=None, alias="class")
    entry_point: str | None = None
    #: The name rules use in ``plugin:`` actions (default: the plugin's own ``name``).
    name: Name | None = None
    config: dict[str, Any] = {}
    timeout_ms: int | None = Field(default=None, ge=1, le=25_000)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    def model_post_init(self, context: Any, /) -> None:
        if self.entry_point is None and (self.module is None or self.class_ is None):
            raise ValueError("a plugin needs either `module` and `class`, or `entry_point`")
        if self.entry_point is not None and (self.module is not None or self.class_ is not None):
            raise ValueError("give either `module`/`class` or `entry_point`, not both")

    @property
    def label(self) -> str:
        return self.entry_point or f"{self.module}:{self.class_}"


class BotDefinition(_Model):
    name: Name
    description: str | None = None
    settings: BotSettings = BotSettings()
    intents: dict[Name, Intent] = {}
    #: Examples of messages the bot does not handle (helps out-of-scope detection).
    out_of_scope: list[Text] = []
    entities: dict[Name, EntityDefinition] = {}
    slots: dict[Name, Slot] = {}
    responses: dict[Name, Annotated[ResponseVariants, Field()]] = {}
    rules: list[Rule] = []
    plugins: list[PluginSpec] = []

    @field_validator("responses", mode="before")
    @classmethod
    def _variants_from_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: [_variant(v) for v in vs] if isinstance(vs, list) else vs for k, vs in value.items()}
        return value
