"""A loaded bot: the validated definition with its rules compiled, templates parsed and plugins imported.

Everything that can be wrong with a bot is found here, at load time (once per cold start), and reported with
the file, line and field: YAML syntax, unknown fields, bad CEL, unknown responses, slots or plugins.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clawline.bot import models
from clawline.bot.problems import BotDefinitionError, FieldPath, Problem, SourceMap
from clawline.plugins.loader import LoadedPlugin, PluginLoadError, load_plugin
from clawline.rules.compiler import CompiledRule, RuleAnalysis, RuleCompileError, RuleSet, compile_rule
from clawline.rules.conditions import ConditionError, Conditions
from clawline.templates import Template, TemplateError, parse
from clawline.topics import TopicAllowList

if TYPE_CHECKING:
    from clawline.language_detection import LanguageDetector

#: Entities NLU extracts without a definition (``number``, ``date``, ``money``...): slots may name them.


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class Variant(NamedTuple):
    """One way of saying a response: its template and buttons."""

    template: Template
    buttons: tuple[str, ...] = ()


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records"). Made by
# ``build`` alone, which gives every field.
class Bot(NamedTuple):
    """A loaded bot: its definition and what that is built into (rules, responses, plugins, templates)."""

    definition: models.BotDefinition
    rules: RuleSet
    responses: dict[str, tuple[Variant, ...]]
    plugins: tuple[LoadedPlugin, ...]
    timezone: ZoneInfo
    directory: Path | None
    #: Templates used in action parameters (set_slot values, reasons, publish texts), by source.
    templates: dict[str, Template]
    #: Compiled ``valid`` conditions of slots and form checks.
    conditions: Conditions
    #: Responses in the other declared languages: language -> response name -> variants (clawline.languages).
    translations: dict[str, dict[str, tuple[Variant, ...]]]
    #: Tells the bot's languages apart (None: the bot speaks one language).
    detector: LanguageDetector | None = None

    @property
    def template_roots(self) -> frozenset[str]:
        """Variables any template uses (costly ones, like the turn window, are built only if used)."""
        return frozenset(p.path[0] for t in self.templates.values() for p in t.placeholders)

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def settings(self) -> models.BotSettings:
        return self.definition.settings

    @classmethod
    def load(cls, path: str | Path, *, load_plugins: bool = True) -> Bot:
        """Load and check a bot directory (or YAML file). Raises ``BotDefinitionError`` listing every problem."""
        from clawline.bot.loader import load_definition  # YAML: a bot loaded prebuilt never reads it

        definition, source = load_definition(path)
        root = Path(path)
        return cls.build(
            definition, source, directory=root if root.is_dir() else root.parent, load_plugins=load_plugins
        )

    @classmethod
    def build(
        cls,
        definition: models.BotDefinition,
        source: SourceMap | None = None,
        *,
        directory: Path | None = None,
        load_plugins: bool = True,
        checked: bool = False,
        compiled: Compiled | None = None,
    ) -> Bot:
        """Build the bot from its definition. ``checked``: this definition already passed every check of this very
        code (a fresh prebuilt definition, ``clawline.bot.prebuilt``): the checks that can only find problems
        (references to responses, slots, intents and entities) are skipped; everything the bot is made of (rules,
        conditions, templates, plugins) is still built, and still fails loudly. ``compiled``: what compiling its
        conditions found then (``Compiled.of``): they are not analysed again, and compile on first use."""
        checker = _Checker(definition, source or SourceMap(), checked=checked, compiled=compiled)
        bot = checker.check(directory, load_plugins)
        if checker.problems:
            raise BotDefinitionError(checker.problems)
        assert bot is not None
        return bot


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class Compiled(NamedTuple):
    """What compiling a bot's conditions found, kept in its prebuilt definition: each rule's analysis (by its
    ``when``) and each ``valid`` condition's CEL source (by its source)."""

    rules: dict[str, RuleAnalysis]
    conditions: dict[str, str]

    @classmethod
    def of(cls, bot: Bot) -> Compiled:
        rules = {c.rule.when.strip(): c.analysis for c in bot.rules.ordered}
        return cls(rules, dict(bot.conditions.cel_sources))


class _Checker:
    def __init__(
        self,
        definition: models.BotDefinition,
        source: SourceMap,
        *,
        checked: bool = False,
        compiled: Compiled | None = None,
    ) -> None:
        self.d = definition
        self.source = source
        #: The reference checks passed already (``Bot.build``): a cold start skips them and never imports
        #: clawline.bot.references (difflib and a dozen regular expressions, about 5 ms).
        self.checked = checked
        self.compiled = compiled
        self.problems: list[Problem] = []
        self.templates: dict[str, Template] = {}
        self.conditions = Conditions()
        self._translations: dict[str, dict[str, tuple[Variant, ...]]] = {}

    def fail(self, path: FieldPath, message: str) -> None:
        self.problems.append(self.source.problem(path, message))

    def check(self, directory: Path | None, load_plugins: bool) -> Bot | None:
        d = self.d
        responses = self._responses()
        self._example_languages()
        self._response_ref(("settings", "fallback"), d.settings.fallback)
        if d.settings.plugin_error:
            self._response_ref(("settings", "plugin_error"), d.settings.plugin_error)
        if d.settings.refusal:
            self._response_ref(("settings", "refusal"), d.settings.refusal)
        try:
            timezone = ZoneInfo(d.settings.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(("settings", "timezone"), f"unknown time zone {d.settings.timezone!r}")
            timezone = ZoneInfo("UTC")
        for name, slot in d.slots.items():
            if slot.entity:
                self._entity_ref(("slots", name, "entity"), slot.entity)
            for key in ("ask", "invalid"):
                ref = getattr(slot, key)
                if ref:
                    self._response_ref(("slots", name, key), ref)
            self._slot_checks(name, slot)
        failures = len(self.problems)
        plugins = self._plugins(directory) if load_plugins else ()
        # When a plugin failed to load its name is unknown: do not report every rule that calls it as well.
        plugin_names = {p.name for p in plugins} if load_plugins and len(self.problems) == failures else None
        compiled: list[CompiledRule] = []
        seen: dict[str, int] = {}
        for i, rule in enumerate(d.rules):
            if rule.name in seen:
                self.fail(("rules", i, "name"), f"rule name {rule.name!r} is already used by rules[{seen[rule.name]}]")
            seen.setdefault(rule.name, i)
            try:
                compiled.append(compile_rule(rule, i, self._analysed(rule)))
            except RuleCompileError as exc:
                self.fail(("rules", i, exc.field), str(exc))
            else:
                self._condition_refs(("rules", i, "when"), rule.when)
            for j, slot_name in enumerate(rule.require):
                required = d.slots.get(slot_name)
                if required is None:
                    self.fail(("rules", i, "require", j), f"unknown slot {slot_name!r}{_suggest(slot_name, d.slots)}")
                elif required.ask is None:
                    self.fail(
                        ("rules", i, "require", j),
                        f"slot {slot_name!r} is required by a form but has no `ask` response",
                    )
            for j, action in enumerate(rule.then):
                self._action(("rules", i, "then", j), action, plugin_names)
            self._form(i, rule)
        if self.problems:
            return None
        return Bot(
            d,
            RuleSet(compiled),
            responses,
            tuple(plugins),
            timezone,
            directory,
            self.templates,
            self.conditions,
            self._translations,
            self._detector(),
        )

    def _detector(self) -> LanguageDetector | None:
        """A detector over the bot's languages (None for a one-language bot), learning each one from the bot's own
        examples and responses in it."""
        d = self.d
        default = d.settings.language
        if len(set(d.settings.languages) | {default}) < 2:
            return None
        from clawline.language_detection import LanguageDetector  # a one-language bot never needs it

        samples: dict[str, list[str]] = {lang: [] for lang in d.settings.languages}
        for lang, texts in samples.items():
            texts.extend(t for intent in d.intents.values() for t in models.in_language(intent.examples, lang, default))
            texts.extend(d.oos_examples(lang))
            variants = self._translations.get(lang, {}) if lang != default else {}
            texts.extend(v.template.source for vs in variants.values() for v in vs)
        for value in d.responses.values():
            said = value.get(default, []) if isinstance(value, dict) else value
            samples[default].extend(v.text for v in said)
        return LanguageDetector(samples)

    def _analysed(self, rule: models.Rule) -> RuleAnalysis | None:
        return self.compiled.rules.get(rule.when.strip()) if self.compiled is not None else None

    def _condition(self, path: FieldPath, source: str) -> None:
        try:
            self.conditions.add(source, self.compiled.conditions.get(source) if self.compiled is not None else None)
        except ConditionError as exc:
            self.fail(path, str(exc))

    def _slot_checks(self, name: str, slot: models.Slot) -> None:
        path: FieldPath = ("slots", name)
        if slot.valid:
            self._condition((*path, "valid"), slot.valid)
        if slot.pattern and not self.checked and _risky_pattern(slot.pattern):
            self.fail((*path, "pattern"), "the pattern nests quantifiers (like (a+)+): a crafted answer could make "
                      "it backtrack for a very long time")  # fmt: skip
        if slot.role and not slot.entity:
            self.fail((*path, "role"), "a slot with a `role` fills from an entity: set `entity` too")
        numeric = slot.type in (models.SlotType.NUMBER, models.SlotType.ANY)
        for key in ("min", "max"):
            if getattr(slot, key) is not None and not numeric:
                self.fail((*path, key), f"`{key}` applies to number slots (this one is {slot.type.value})")
        if slot.min is not None and slot.max is not None and slot.min > slot.max:
            self.fail((*path, "min"), f"min {slot.min:g} is greater than max {slot.max:g}")
        if slot.choices is not None and slot.values is not None:
            self.fail((*path, "choices"), "give either `values` or `choices`, not both")

    def _form(self, i: int, rule: models.Rule) -> None:
        path: FieldPath = ("rules", i)
        for key in ("confirm", "change", "cancelled"):
            ref = getattr(rule, key)
            if ref:
                self._response_ref((*path, key), ref)
                if not rule.require:
                    self.fail((*path, key), f"`{key}` belongs to a form: the rule has no `require`")
        if rule.checks and not rule.require:
            self.fail((*path, "checks"), "`checks` belong to a form: the rule has no `require`")
        for j, check in enumerate(rule.checks):
            self._condition((*path, "checks", j, "valid"), check.valid)
            self._response_ref((*path, "checks", j, "invalid"), check.invalid)
            for slot in check.clear:
                if slot not in rule.require:
                    self.fail((*path, "checks", j, "clear"), f"slot {slot!r} is not one this form requires")

    def _responses(self) -> dict[str, tuple[Variant, ...]]:
        """The default language's responses (``responses``); the other languages go to ``_translations``."""
        out: dict[str, tuple[Variant, ...]] = {}
        default = self.d.settings.language
        declared = set(self.d.settings.languages) | {default}
        if self.d.settings.languages and default not in self.d.settings.languages:
            self.fail(("settings", "languages"), f"the default language {default!r} is not in the list")
        for name, value in self.d.responses.items():
            if not isinstance(value, dict):
                out[name] = self._variants(("responses", name), value)
                continue
            for lang, variants in value.items():
                if lang not in declared:
                    self.fail(("responses", name, lang), f"language {lang!r} is not in settings.languages")
                elif lang == default:
                    out[name] = self._variants(("responses", name, lang), variants)
                else:
                    self._translations.setdefault(lang, {})[name] = self._variants(("responses", name, lang), variants)
            if default not in value:
                self.fail(("responses", name), f"no variants in the default language {default!r}")
        return out

    def _example_languages(self) -> None:
        """Examples per language name declared languages, and every intent has default-language examples: the
        default language's model is the one a language without its own model falls back to."""
        if self.checked:
            return
        default = self.d.settings.language
        declared = set(self.d.settings.languages) | {default}
        sections: list[tuple[FieldPath, list[str] | dict[str, list[str]]]] = [
            (("intents", name, "examples"), intent.examples) for name, intent in self.d.intents.items()
        ]
        sections.append((("out_of_scope",), self.d.out_of_scope))
        for path, value in sections:
            if not isinstance(value, dict):
                continue
            for lang in value:
                if lang not in declared:
                    self.fail((*path, lang), f"language {lang!r} is not in settings.languages")
            if path[0] == "intents" and not value.get(default):
                self.fail(path, f"no examples in the default language {default!r}")

    def _variants(self, path: FieldPath, variants: list[models.ResponseVariant]) -> tuple[Variant, ...]:
        parsed: list[Variant] = []
        for i, variant in enumerate(variants):
            template = self._template((*path, i, "text"), variant.text)
            if template is not None:
                parsed.append(Variant(template, tuple(variant.buttons)))
        return tuple(parsed)

    def _template(self, path: FieldPath, text: str) -> Template | None:
        try:
            template = parse(text)
        except TemplateError as exc:
            self.fail(path, str(exc))
            return None
        for placeholder in () if self.checked else template.placeholders:
            kind, name = placeholder.path[0], placeholder.path[1] if len(placeholder.path) > 1 else None
            if kind == "slots" and name is not None and name not in self.d.slots:
                self.fail(path, f"unknown slot {name!r} in template{_suggest(name, self.d.slots)}")
            elif kind == "entities" and name is not None and name not in self._entity_names:
                self.fail(path, f"unknown entity {name!r} in template{_suggest(name, self._entity_names)}")
        self.templates[text] = template
        return template

    @property
    def _entity_names(self) -> set[str]:
        from clawline.bot.references import BUILTIN_ENTITIES

        return set(self.d.entities) | BUILTIN_ENTITIES

    def _entity_ref(self, path: FieldPath, name: str) -> None:
        if self.checked:
            return
        from clawline.bot.references import BUILTIN_ENTITIES

        if name not in self._entity_names:
            builtins = ", ".join(sorted(BUILTIN_ENTITIES))
            self.fail(
                path,
                f"unknown entity {name!r}{_suggest(name, self._entity_names)}: define it under `entities:` "
                f"or use a built-in one ({builtins})",
            )

    def _condition_refs(self, path: FieldPath, source: str) -> None:
        """Intents, slots and entities a condition names must exist (see clawline.bot.references)."""
        if self.checked:
            return
        from clawline.bot.references import condition_references

        reported: set[tuple[str, str]] = set()
        for ref in condition_references(source):
            if (ref.kind, ref.name) in reported:
                continue
            reported.add((ref.kind, ref.name))
            if ref.kind == "intent" and ref.name not in self.d.intents:
                known = f"{_suggest(ref.name, self.d.intents)}" if self.d.intents else " (the bot defines no intents)"
                self.fail(path, f"unknown intent {ref.name!r}{known}")
            elif ref.kind == "slot" and ref.name not in self.d.slots:
                self.fail(path, f"unknown slot {ref.name!r}{_suggest(ref.name, self.d.slots)}")
            elif ref.kind == "entity":
                self._entity_ref(path, ref.name)

    def _response_ref(self, path: FieldPath, name: str) -> None:
        if not self.checked and name not in self.d.responses:
            self.fail(path, f"unknown response {name!r}{_suggest(name, self.d.responses)}")

    def _slot_ref(self, path: FieldPath, name: str) -> None:
        if not self.checked and name not in self.d.slots:
            self.fail(path, f"unknown slot {name!r}{_suggest(name, self.d.slots)}")

    def _action(self, path: FieldPath, action: Any, plugin_names: set[str] | None) -> None:
        if isinstance(action, models.ReplyAction):
            self._response_ref((*path, "reply"), action.reply)
        elif isinstance(action, models.SetSlotAction):
            for slot, value in action.set_slot.items():
                self._slot_ref((*path, "set_slot", slot), slot)
                if isinstance(value, str):
                    self._template((*path, "set_slot", slot), value)
        elif isinstance(action, models.ClearSlotAction):
            names = [action.clear_slot] if isinstance(action.clear_slot, str) else action.clear_slot
            for slot in names:
                self._slot_ref((*path, "clear_slot"), slot)
        elif isinstance(action, models.PluginAction):
            name = action.plugin if isinstance(action.plugin, str) else action.plugin.name
            if plugin_names is not None and name not in plugin_names:
                known = ", ".join(sorted(plugin_names)) or "none declared under `plugins:`"
                self.fail((*path, "plugin"), f"unknown plugin {name!r} (known: {known})")
        elif isinstance(action, models.HandoffAction) and isinstance(action.handoff, models.HandoffParams):
            if action.handoff.response:
                self._response_ref((*path, "handoff", "response"), action.handoff.response)
            if action.handoff.note:
                self._template((*path, "handoff", "note"), action.handoff.note)
        elif isinstance(action, models.RejectAction):
            reason = action.reject if isinstance(action.reject, str) else action.reject.reason
            self._template((*path, "reject"), reason)
        elif isinstance(action, models.PublishAction):
            params = action.publish
            if params.response:
                self._response_ref((*path, "publish", "response"), params.response)
            if params.text is None and params.response is None and not params.payload:
                self.fail((*path, "publish"), "publish needs `text`, `response` or `payload`")
            if params.channel == "mqtt" and not params.topic:
                self.fail((*path, "publish", "topic"), "publishing to mqtt needs a `topic`")
            elif params.channel == "mqtt" and params.topic:
                allowed = TopicAllowList(self.d.settings.publish_topics)
                if not allowed.may_allow(params.topic):
                    listed = ", ".join(allowed.patterns) or "none"
                    self.fail(
                        (*path, "publish", "topic"),
                        f"topic {params.topic!r} is not in settings.publish_topics (allowed: {listed})",
                    )
            for key in ("text", "topic", "to"):
                value = getattr(params, key)
                if value:
                    self._template((*path, "publish", key), value)

    def _plugins(self, directory: Path | None) -> list[LoadedPlugin]:
        loaded: list[LoadedPlugin] = []
        for i, spec in enumerate(self.d.plugins):
            try:
                plugin = load_plugin(spec, bot_dir=directory, default_timeout_ms=self.d.settings.plugin_timeout_ms)
            except PluginLoadError as exc:
                self.fail(("plugins", i), str(exc))
                continue
            if any(p.name == plugin.name for p in loaded):
                self.fail(("plugins", i), f"two plugins are named {plugin.name!r} (set `name:` on one)")
                continue
            loaded.append(plugin)
        return loaded


def _risky_pattern(pattern: str) -> bool:
    from clawline.rules.analysis import risky_pattern  # a bot loaded prebuilt was checked already

    return risky_pattern(pattern)


def _suggest(name: str, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a misspelt name (clawline.bot.references, imported only to report a problem)."""
    from clawline.bot.references import suggest

    return suggest(name, known)
