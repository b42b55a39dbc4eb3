"""The bot definition format, as pydantic models. Every model forbids unknown fields, so a typo is an error.

A bot is ``bots/<name>/bot.yaml`` (plus the files it ``include``s). See docs/bots.md for the reference.
"""

# No `from __future__ import annotations`: pydantic would evaluate every annotation string again when it builds
# these classes at import (about 3 ms of each cold start); written as objects they cost nothing more.

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
    model_validator,
)

from clawline.regexes import check_patterns
from clawline.topics import check_pattern

Name = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=4000)]
#: An ISO 639 language code (``en``, ``fr``); a region (``fr-CA``) is the client's business, not the bot's.
Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]


class _Model(BaseModel):
    # defer_build: the validators are built when a bot is first validated from its YAML (``clawline package``, the
    # CLI, a bot without a fresh prebuilt definition), never at a cold start that loads the prebuilt definition
    # (clawline.bot.prebuilt). A default instance in a class body would build its validator at import: defaults
    # that are models are ``default_factory`` for that reason.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Mode(StrEnum):
    RULES = "rules"
    NLU = "nlu"
    HYBRID = "hybrid"


class RateLimitSettings(_Model):
    """Per-caller token bucket: ``capacity`` messages at once, refilled at ``refill_per_second``."""

    capacity: int = Field(ge=1, le=100_000)
    refill_per_second: float = Field(gt=0, le=10_000)


#: Messages that correct a slot already given ("actually make it 200", "no, to savings", "I meant Tuesday").
DEFAULT_CORRECTION = (
    r"(?i)^\s*(?:actually|sorry|oops|wait|no\s*,|i meant|i mean|make it|make that|change (?:it|that) to)\b"
)


class FormSettings(_Model):
    #: Intents that answer yes / no to a form's confirmation and fill ``bool`` slots (yes/no words work too).
    affirm: list[Name] = ["affirm"]
    deny: list[Name] = ["deny"]
    #: Intents that mark a message as a correction of a slot already filled.
    correct: list[Name] = ["correct"]
    #: A regular expression that marks a correction too (``""``: intents only).
    correction_pattern: Annotated[str, AfterValidator(lambda p: check_patterns([p])[0])] = DEFAULT_CORRECTION


class BotSettings(_Model):
    #: ``rules``: NLU runs only for a ``classify`` action or a form; ``nlu``: on every message; ``hybrid``:
    #: only when a candidate rule or the fallback needs it.
    mode: Mode = Mode.HYBRID
    language: Annotated[str, StringConstraints(min_length=2, max_length=16)] = "en"
    #: Every language the bot speaks (default: just ``language``, the default one); see clawline.languages.
    languages: list[Language] = []
    #: Response sent when no rule matched (and, in nlu/hybrid mode, no intent response applies).
    fallback: Name = "fallback"
    #: In nlu/hybrid mode, a message no rule handled gets the response named like its intent, if any.
    intent_responses: bool = True
    #: Response sent when a plugin called by a rule fails or times out (default: the fallback).
    plugin_error: Name | None = None
    #: Response sent when a plugin rejects a message without giving a reason (default: the fallback).
    refusal: Name | None = None
    #: Time budget of one plugin hook call, and of one plugin's ``setup()``.
    plugin_timeout_ms: int = Field(default=1000, ge=1, le=25_000)
    plugin_setup_timeout_ms: int = Field(default=10_000, ge=1, le=60_000)
    #: IANA time zone for ``hour``/``weekday`` in rules (``now`` is always UTC).
    timezone: str = "UTC"
    #: Files with more definitions, relative to bot.yaml (glob patterns allowed).
    include: list[str] = []
    #: Per-caller message rate for this bot; overrides the function's CLAWLINE_RATE_LIMIT_* defaults.
    rate_limit: RateLimitSettings | None = None
    #: How forms recognise yes, no and corrections.
    forms: FormSettings = Field(default_factory=FormSettings)
    #: MQTT topics ``publish`` actions may send to (``{placeholder}`` = one topic level); nothing else is.
    publish_topics: list[Annotated[str, AfterValidator(check_pattern)]] = []
    #: Intent classifier: ``linear`` (numpy, the default) or ``embedding`` (MiniLM; needs the NLU embedding
    #: layer). Unset: the deployment's CLAWLINE_NLU_BACKEND. ``clawline train`` recommends one (docs/nlu.md).
    nlu_backend: Literal["linear", "embedding"] | None = None
    #: ``embedding`` only: ``clawline train`` fine-tunes the encoder on the bot's examples and writes the bot's own
    #: model (``model/minilm/``, about 23 MB), which the backend loads instead of the layer's (docs/nlu.md).
    nlu_fine_tune: bool = False
    #: Which conversation a message without a conversation id continues (``clawline.conversation_scope``):
    #: ``per_user``, the user's latest started one whatever the channel; ``per_connection``, one per socket
    #: user, device or request; ``explicit``, none (such a message is refused).
    conversation_scope: Literal["per_user", "per_connection", "explicit"] = "per_user"
    #: Days a user profile (the ``scope: user`` slots) is kept after its last change.
    profile_retention_days: int = Field(default=365, ge=1, le=3650)

    @model_validator(mode="after")
    def _fine_tune_needs_embedding(self) -> "BotSettings":
        if self.nlu_fine_tune and self.nlu_backend != "embedding":
            raise ValueError("nlu_fine_tune fine-tunes the embedding backend's encoder: set nlu_backend: embedding")
        return self


Examples = Annotated[list[Text], Field(min_length=1)]
#: Text in the default language (a list), or per language (``{en: [...], es: [...]}``).
PerLanguage = Examples | Annotated[dict[Language, Examples], Field(min_length=1)]


def in_language(value: list[str] | dict[str, list[str]], language: str, default: str) -> list[str]:
    """The texts of ``value`` (a list: the default language's; a mapping: per language) in ``language``."""
    if isinstance(value, dict):
        return list(value.get(language, ()))
    return list(value) if language == default else []


def every_language(value: list[str] | dict[str, list[str]]) -> list[str]:
    return [t for texts in value.values() for t in texts] if isinstance(value, dict) else list(value)


class Intent(_Model):
    examples: PerLanguage
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
    #: Validation (a value that fails any is refused with ``invalid``): bounds for numbers, a regular
    #: expression the whole text value must match, the allowed values, and a CEL condition over ``value`` and
    #: ``slots`` (``'value > 0 && value <= slots.balance'``).
    min: float | None = None
    max: float | None = None
    pattern: Annotated[str, AfterValidator(lambda p: check_patterns([p])[0])] | None = None
    choices: list[str | int | float] | None = None
    valid: Annotated[str, StringConstraints(min_length=1, max_length=4000)] | None = None
    #: Fill only from ``entity`` found with this role: annotated in examples (``{"entity": "account",
    #: "role": "from"}``) or written before the value ("from savings").
    role: Name | None = None
    #: ``user``: the slot belongs to the user's profile and outlives the conversation (``clawline.profile``).
    scope: Literal["conversation", "user"] = "conversation"


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


class FormCheck(_Model):
    """A condition over the form's slots checked once all are filled ("accounts must differ")."""

    valid: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    #: Response when the condition is false.
    invalid: Name
    #: Slots cleared (and asked again) when it is false (default: the slot filled last).
    clear: list[Name] = []


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
    #: Form only: cross-slot conditions checked when every required slot is filled.
    checks: list[FormCheck] = []
    #: Form only: response asking the user to confirm the filled slots before ``then`` runs.
    confirm: Name | None = None
    #: Form only: response after "no" to ``confirm``, asking which slot to change (without it "no" cancels).
    change: Name | None = None
    #: Form only: response when the user cancels at the confirmation.
    cancelled: Name | None = None


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
    settings: BotSettings = Field(default_factory=BotSettings)
    intents: dict[Name, Intent] = {}
    #: Examples of messages the bot does not handle (helps out-of-scope detection).
    out_of_scope: list[Text] | dict[Language, list[Text]] = []
    entities: dict[Name, EntityDefinition] = {}
    slots: dict[Name, Slot] = {}
    #: A response is its variants, or its variants per language (``{en: [...], fr: [...]}``).
    responses: dict[
        Name, ResponseVariants | dict[Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")], ResponseVariants]
    ] = {}
    rules: list[Rule] = []
    plugins: list[PluginSpec] = []

    def nlu_languages(self) -> tuple[str, ...]:
        """The languages that have NLU examples, the default one first (it always has a model when there are
        intents: a language without examples is classified by the default language's model)."""
        default = self.settings.language
        found = {default}
        for value in [i.examples for i in self.intents.values()] + [self.out_of_scope]:
            if isinstance(value, dict):
                found.update(lang for lang, texts in value.items() if texts)
        return (default, *sorted(found - {default}))

    def intent_examples(self, language: str | None = None) -> dict[str, list[str]]:
        """Intent -> its examples in ``language`` (default: the default language); intents without any left out."""
        default = self.settings.language
        wanted = language or default
        found = {name: in_language(i.examples, wanted, default) for name, i in self.intents.items()}
        return {name: examples for name, examples in found.items() if examples}

    def oos_examples(self, language: str | None = None) -> list[str]:
        default = self.settings.language
        return in_language(self.out_of_scope, language or default, default)

    @field_validator("responses", mode="before")
    @classmethod
    def _variants_from_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: _variants(vs) for k, vs in value.items()}
        return value


def _variants(value: Any) -> Any:
    if isinstance(value, list):
        return [_variant(v) for v in value]
    if isinstance(value, dict):  # per language
        return {lang: [_variant(v) for v in vs] if isinstance(vs, list) else vs for lang, vs in value.items()}
    return value
