"""The engine's entry point: ``Engine.handle(InboundMessage) -> Reply``. Every channel adapter calls exactly this.

One turn::

    load conversation -> plugins(before_nlu) -> [NLU] -> active form? -> rules -> actions/plugins(action)
    -> reply (or fallback) -> save conversation (retried on a lost race) -> plugins(after_reply)

NLU runs as the bot's mode says: always (``nlu``), never unless a rule classifies or a form needs entities
(``rules``), or when the first candidate rule that uses ``intent``/``confidence``/``entities`` is reached, or
the fallback needs an intent (``hybrid``). This module is pure: no boto3, no environment; I/O goes through the
``ConversationStore`` port and plugins. ``Engine`` coordinates; forms (slot filling, validation, corrections,
confirmation) are ``clawline.forms``, slot values ``clawline.slots``.

Examples
--------
>>> from clawline.store.memory import InMemoryConversationStore
>>> engine = load_engine("bots/default", InMemoryConversationStore())  # doctest: +SKIP
>>> reply = asyncio.run(engine.handle(message))  # doctest: +SKIP
"""

from __future__ import annotations

import bisect
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clawline import languages, profile, summary
from clawline.bot import models
from clawline.bot.compiled import Bot
from clawline.bot.models import Mode
from clawline.conversation import ConversationState, Turn, TurnAlreadyStoredError
from clawline.conversation_scope import ConversationRouter, Opened
from clawline.errors import ConfigurationError, ConflictError
from clawline.forms import Forms
from clawline.messages import Action, InboundMessage, OutboundMessage, PluginCall, Reply
from clawline.nlu.builtins import Reference, enter_reference, exit_reference
from clawline.nlu.types import NluBackend, NluResult
from clawline.observability import MetricName, count, logger
from clawline.plugins.base import PluginResult, TurnContext
from clawline.plugins.runner import HookOutcome, PluginRunner
from clawline.ports import ConversationStore
from clawline.rules.compiler import CompiledRule, Scope

__all__ = [
    "Bot",
    "Engine",
    "NluFactory",
    "build_nlu",
    "default_nlu_factory",
    "load_engine",
    "nlu_factory",
    "nlu_inputs",
]

#: Builds the NLU backend for a bot (None: the bot has no NLU). Injected by tests and the composition root.
NluFactory = Callable[[Bot], NluBackend | None]
#: How many times a turn is re-run after losing an optimistic-locking race before the conflict is raised.
MAX_TURN_ATTEMPTS = 4

#: Message metadata key a channel may set to the user's IANA time zone (dates and ``hour`` are then theirs).
TIMEZONE_METADATA = "timezone"


def nlu_inputs(definition: models.BotDefinition, language: str | None = None) -> dict[str, Any]:
    """What the bot's NLU model for ``language`` (default: the default language) is built from, as keyword
    arguments of ``clawline.nlu.backend.build_backend`` (and ``train_artifact``): ``intents``, ``entities`` (an
    ``EntitiesSpec``, shared by every language) and ``oos_examples``.

    Training (``clawline train``) and loading must use exactly these, or the artifact's fingerprint will not
    match and the model is retrained at cold start. Needs ``clawline.nlu`` (numpy).
    """
    from clawline.nlu.entities import EntitiesSpec, LookupEntity, RegexEntity

    regexes = [
        RegexEntity(name=name, patterns=e.regex, synonyms=e.synonyms)
        for name, e in definition.entities.items()
        if e.regex
    ]
    lookups = []
    for name, entity in definition.entities.items():
        values: dict[str, list[str]] = {value: [] for value in entity.lookup}
        for value, spellings in entity.synonyms.items():
            values.setdefault(value, []).extend(spellings)
        if values:
            lookups.append(LookupEntity(name=name, values=values))
    return {
        "intents": definition.intent_examples(language),
        "entities": EntitiesSpec(regexes=regexes, lookups=lookups),
        "oos_examples": definition.oos_examples(language),
    }


def default_nlu_factory(bot: Bot) -> NluBackend | None:
    """The trained classifier (``clawline.nlu``) when it is installed, else the keyword backend; None for a bot
    without intents or entities. A trained artifact in ``<bot>/model/nlu.npz`` is used when it matches."""
    return build_nlu(bot)


def nlu_factory(backend: Literal["linear", "embedding"] = "linear", model_dir: Path | None = None) -> NluFactory:
    """An ``NluFactory`` for the configured backend (``Settings.nlu_backend``)."""
    return functools.partial(build_nlu, backend=backend, model_dir=model_dir)


def build_nlu(
    bot: Bot,
    *,
    backend: Literal["linear", "embedding"] = "linear",
    model_dir: Path | None = None,
    language: str | None = None,
) -> NluBackend | None:
    """The bot's NLU backend. ``embedding`` uses ``<bot>/model/nlu-embedding.npz`` when it matches the bot and
    the encoder, and needs onnxruntime and the model directory: without them it is a ``ConfigurationError``
    naming what is missing, never a silent fall-back to another classifier.

    A bot with examples in several languages gets one model per language (``clawline.nlu.per_language``), each
    built on its first message; ``language`` builds that one model."""
    d = bot.definition
    if not d.intents and not d.entities:
        return None
    backend = d.settings.nlu_backend or backend  # the bot's own choice (bot.yaml) wins over the deployment's
    if language is None and len(d.nlu_languages()) > 1:
        from clawline.nlu.per_language import PerLanguageNlu

        build = functools.partial(_build_language_nlu, bot, backend=backend, model_dir=model_dir)
        return PerLanguageNlu(
            bot.name, d.settings.language, build, d.nlu_languages(), eager_default=backend == "embedding"
        )
    try:
        # Imported here: the trained classifier (numpy) loads only for bots that have NLU.
        from clawline.nlu.backend import build_backend

        inputs = nlu_inputs(d, language)
    except ImportError:
        if backend == "embedding":
            raise ConfigurationError("the embedding NLU backend needs numpy (clawline.nlu) in the layer") from None
        from clawline.bot.keyword_nlu import KeywordBackend

        return KeywordBackend(d.intent_examples(language), d.entities)
    name = model_file_name(backend, None if language == d.settings.language else language)
    artifact = bot.directory / "model" / name if bot.directory is not None else None
    if backend == "embedding":
        from clawline.nlu.embedding import bot_model_dir, require_encoder

        # A bot fine-tuned by ``clawline train`` (settings.nlu_fine_tune) carries its own encoder.
        model_dir = bot_model_dir(bot.directory) or model_dir
        require_encoder(model_dir)
    started = time.perf_counter()
    built: NluBackend = build_backend(
        **inputs,
        artifact_path=artifact if artifact is not None and artifact.is_file() else None,
        backend=backend,
        embedding_model_dir=model_dir,
    )
    # Once per cold start: "memory" means the artifact was missing or stale and the model was trained just now.
    logger.info(
        "NLU ready",
        extra={
            "nlu_backend": backend,
            "nlu_language": language or d.settings.language,
            "nlu_source": getattr(built, "source", "memory"),
            "nlu_ready_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return built


def _build_language_nlu(
    bot: Bot, language: str, *, backend: Literal["linear", "embedding"], model_dir: Path | None
) -> NluBackend | None:
    return build_nlu(bot, backend=backend, model_dir=model_dir, language=language)


def model_file_name(backend: str, language: str | None = None) -> str:
    """``nlu.npz`` (``nlu-embedding.npz``) for the default language, ``nlu.<lang>.npz`` for another one."""
    stem = "nlu-embedding" if backend == "embedding" else "nlu"
    return f"{stem}.{language}.npz" if language else f"{stem}.npz"


def load_engine(
    path: str | Path,
    store: ConversationStore,
    *,
    window: int = 10,
    nlu_factory: NluFactory | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Engine:
    """Load the bot at ``path`` (a directory with bot.yaml) and build its engine. Raises ``BotDefinitionError``."""
    bot = Bot.load(path)
    return Engine(bot, store, window=window, nlu=(nlu_factory or default_nlu_factory)(bot), clock=clock)


class Engine:
    def __init__(
        self,
        bot: Bot,
        store: ConversationStore,
        *,
        window: int = 10,
        nlu: NluBackend | None = None,
        clock: Callable[[], datetime] | None = None,
        indexed: bool = True,
    ) -> None:
        self.bot = bot
        self.store = store
        self._window = window
        self.nlu = nlu
        self.clock = clock or (lambda: datetime.now(UTC))
        #: False evaluates every rule in priority order (the benchmark's baseline); results are the same.
        self.indexed = indexed
        self.plugins = PluginRunner(bot.plugins, setup_timeout_s=bot.settings.plugin_setup_timeout_ms / 1000)
        self.templates_use_turns = "turns" in bot.template_roots
        self._mode = bot.settings.mode
        self.conditions = bot.conditions
        self.forms = Forms(self)
        # Which conversation an id-less message continues, and the owner's index and profile (when the store
        # keeps them: both first-party stores do).
        self.router = ConversationRouter(
            store, getattr(store, "owners", None), bot.settings.conversation_scope, window=window
        )
        self.profile_slots = frozenset(n for n, s in bot.definition.slots.items() if s.scope == "user")

    @property
    def window(self) -> int:
        """How many recent turns a turn loads (and rules, templates and plugins see)."""
        return self._window

    @window.setter
    def window(self, window: int) -> None:
        self._window = self.router.window = window

    @classmethod
    def load(cls, path: str | Path, store: ConversationStore, **kwargs: Any) -> Engine:
        return load_engine(path, store, **kwargs)

    async def setup(self) -> None:
        """Every plugin's ``setup()``, concurrently, under the setup time budget. Optional: without it, the first
        plugin call of the process sets them up (a turn that calls no plugin needs no event loop)."""
        await self.plugins.setup()

    async def handle(self, message: InboundMessage) -> Reply:
        message = _storable(message)
        nlu_cache: dict[str, NluResult] = {}
        opened = self.router.open(message)
        for attempt in range(1, MAX_TURN_ATTEMPTS + 1):
            if attempt > 1:
                state = self.store.load(opened.message.conversation_id, message.owner_key, window=self.window)
                opened = opened._replace(state=state)
            if opened.state.is_new:
                opened = self._start(opened)
            message, state = opened.message, opened.state
            stored = state.stored_turn(message.message_id)
            if stored is not None:
                # A replay: answered from the stored turn by the turn runner, never decided twice.
                raise TurnAlreadyStoredError(stored)
            turn = _Turn(self, message, state, nlu_cache)
            await self._decide(turn)
            if self.plugins.has_before_send and turn.messages:
                self._rewrite_replies(turn, await self.plugins.before_send(turn.context(), turn.texts()))
            record = turn.record()
            await self._summarize(turn)
            if self.profile_slots and self.router.owners is not None:
                turn.state.profile_version = profile.save_changes(
                    self.router.owners,
                    message.owner_key,
                    turn.slots_before,
                    turn.state.slots,
                    version=turn.state.profile_version,
                    names=self.profile_slots,
                    retention_days=self.bot.settings.profile_retention_days,
                )
            try:
                # The reply is stored with the turn (a replay answers it again); its slots are the state's.
                saved = self.store.save(turn.state, record, reply=turn.reply(turn.state))
            except ConflictError:
                # Another turn of this conversation saved first: decide again on its result (no lost update).
                logger.info("turn lost a race, retrying", extra={"attempt": attempt})
                if attempt == MAX_TURN_ATTEMPTS:
                    raise
                continue
            reply = turn.reply(saved)
            if self.plugins.has_after_reply:
                turn.note_plugins(await self.plugins.after_reply(turn.context(), reply))
            return reply
        raise AssertionError("unreachable")  # pragma: no cover

    def _start(self, opened: Opened) -> Opened:
        """A conversation's first turn: index it (make it current, per_user) and start it with the profile."""
        started = self.router.start(opened, with_profile=bool(self.profile_slots))
        state = started.state
        if state.is_new and started.record is not None:
            if self.profile_slots:
                profile.seed(state.slots, started.record, self.profile_slots)
            state.profile_version = started.record.profile_version
        return started

    async def _summarize(self, turn: _Turn) -> None:
        """The oldest turn of a full window leaves it with this turn: keep its gist in ``summary``."""
        state = turn.state
        if self.window <= 0 or len(state.recent_turns) < self.window:
            return
        dropped = state.recent_turns[0]
        if self.plugins.has_summarize:
            outcomes = await self.plugins.summarize(turn.context(), state.summary, dropped)
            turn.note_plugins(outcomes)
            for outcome in outcomes:
                if outcome.result is not None and outcome.result.text:
                    state.summary = summary.bounded(outcome.result.text)
                    return
        state.summary = summary.extractive(state.summary, dropped)

    # ----- decision --------------------------------------------------------------------------------------------

    async def _decide(self, turn: _Turn) -> None:
        try:
            before = await self.plugins.before_nlu(turn.context()) if self.plugins.has_before_nlu else []
            turn.note_plugins(before)
            for outcome in before:
                # A failed before_nlu hook is skipped: the turn goes on without it.
                if outcome.result is not None:
                    self._apply(turn, outcome.plugin, outcome.result)
                    if turn.stopped:
                        return
            if self._mode is Mode.NLU or self.plugins.has_before_rules:
                turn.understand()
            if self.plugins.has_before_rules and self._gate(turn, await self.plugins.before_rules(turn.context())):
                return
            if turn.state.active_form and await self.forms.resume(turn):
                return
            if not await self.scan(turn):
                self._fallback(turn)
        except Exception as exc:  # noqa: BLE001 - a bug in one turn must answer, not crash the function
            logger.exception("turn failed, answering with the fallback", extra={"error_type": type(exc).__name__})
            count(MetricName.ERRORS)
            turn.messages.clear()
            turn.actions.clear()
            turn.trace.append("error")
            self.say(turn, self.bot.settings.fallback)

    def _candidates(self, turn: _Turn) -> tuple[CompiledRule, ...]:
        if not self.indexed:
            return self.bot.rules.ordered
        message = turn.message
        return self.bot.rules.candidates(
            message.channel.value, turn.intent, nlu_ran=turn.nlu is not None, text=message.text
        )

    async def scan(self, turn: _Turn, pool: Sequence[CompiledRule] | None = None) -> bool:
        """Evaluate candidate rules in priority order, firing each match until one stops; True if any matched."""
        rules = self._candidates(turn) if pool is None else pool
        listed_after_nlu = turn.nlu is not None
        channel, text = turn.message.channel.value, turn.message.text
        matched = False
        i = 0
        while i < len(rules):
            rule = rules[i]
            if rule.needs_nlu and turn.nlu is None:
                if self._mode is Mode.RULES or self.nlu is None:
                    i += 1
                    continue
                turn.understand()
            if pool is None and self.indexed and turn.nlu is not None and not listed_after_nlu:
                # NLU has just run: continue from this rule in the (shorter) list of rules for this intent.
                rules = self._candidates(turn)
                listed_after_nlu = True
                i = bisect.bisect_left(rules, rule.order, key=lambda c: c.order)
                continue
            i += 1
            turn.considered.append(rule.name)
            if self.indexed:
                if not rule.admits(channel, turn.nlu.intent if turn.nlu else None, turn.state.slots, text):
                    continue
                # Guards that are the whole condition have just been checked: no CEL call needed.
                if not rule.guards.complete and not self._when(turn, rule):
                    continue
            elif not self._when(turn, rule):
                continue
            matched = True
            await self._fire(turn, rule)
            if turn.stopped or rule.rule.stop:
                break
        return matched

    def _when(self, turn: _Turn, rule: CompiledRule) -> bool:
        try:
            result = turn.scope.evaluate(rule)
        except Exception as exc:  # noqa: BLE001 - CEL raises plain errors; a condition that cannot be evaluated is false
            logger.debug("rule condition failed", extra={"rule": rule.name, "error_type": type(exc).__name__})
            return False
        return result is True

    async def _fire(self, turn: _Turn, compiled: CompiledRule) -> None:
        rule = compiled.rule
        turn.trace.append(rule.name)
        if rule.require:
            await self.forms.start(turn, compiled)
            return
        await self.run_actions(turn, rule)

    def _fallback(self, turn: _Turn) -> None:
        settings = self.bot.settings
        if self._mode is not Mode.RULES and self.nlu is not None and settings.intent_responses:
            result = turn.understand()
            if result.intent is not None and result.intent in self.bot.responses:
                turn.trace.append(f"intent:{result.intent}")
                self.say(turn, result.intent)
                return
        if turn.nlu is not None and turn.nlu.intent is None:
            count(MetricName.NLU_FALLBACKS)
        turn.trace.append("fallback")
        self.say(turn, settings.fallback)

    # ----- actions --------------------------------------------------------------------------------------------

    async def run_actions(self, turn: _Turn, rule: models.Rule) -> None:
        actions = rule.then
        i = 0
        while i < len(actions) and not turn.stopped:
            action = actions[i]
            if isinstance(action, models.PluginAction):
                # Consecutive plugin calls are one stage: independent, so they run concurrently.
                stage: list[tuple[str, Mapping[str, Any]]] = []
                while i < len(actions) and isinstance(actions[i], models.PluginAction):
                    call = actions[i].plugin  # type: ignore[union-attr]
                    stage.append((call, {}) if isinstance(call, str) else (call.name, call.params))
                    i += 1
                await self._plugin_stage(turn, stage)
                continue
            self._action(turn, action)
            i += 1

    async def _plugin_stage(self, turn: _Turn, calls: list[tuple[str, Mapping[str, Any]]]) -> None:
        outcomes: list[HookOutcome] = await self.plugins.actions(calls, turn.context())
        turn.note_plugins(outcomes)
        for outcome in outcomes:
            if not outcome.ok:
                turn.trace.append(f"plugin_error:{outcome.plugin}")
                self.say(turn, self.bot.settings.plugin_error or self.bot.settings.fallback)
                turn.stopped = True
                return
        for outcome in outcomes:
            if outcome.result is not None:
                self._apply(turn, outcome.plugin, outcome.result)
                if turn.stopped:
                    return

    def _rewrite_replies(self, turn: _Turn, outcomes: list[HookOutcome]) -> None:
        """``before_send`` results replace the reply texts one for one (translation); a failed hook changes nothing."""
        for outcome in outcomes:
            if outcome.result is not None and len(outcome.result.replies) == len(turn.messages):
                texts = outcome.result.replies
                turn.messages = [m.model_copy(update={"text": t}) for m, t in zip(turn.messages, texts, strict=True)]

    def _gate(self, turn: _Turn, outcomes: list[HookOutcome]) -> bool:
        """Apply the gates' results (a failed gate is skipped, like a failed before_nlu); True if one rejected."""
        for outcome in outcomes:
            if outcome.result is not None:
                self._apply(turn, outcome.plugin, outcome.result)
                if turn.stopped:
                    return True
        return False

    def _apply(self, turn: _Turn, plugin: str, result: PluginResult) -> None:
        if result.data:
            turn.plugin_data[plugin] = dict(result.data)
            turn.scope.invalidate("plugins")
        for name, value in result.slots.items():
            self.forms.set_slot(turn, name, value)
        if result.text is not None:
            turn.rewrite(result.text)
        turn.messages.extend(OutboundMessage(text=t) for t in result.replies)
        turn.actions.extend(result.actions)
        if result.reject is not None:
            # An empty reason: the bot's refusal response (the seed's `{"action": "reject"}` without a reason).
            refusal = self.bot.settings.refusal or self.bot.settings.fallback
            self._reject(turn, result.reject or self._variant(turn, refusal)[0])
        elif result.stop:
            turn.trace.append(f"plugin:{plugin}")
            turn.stopped = True

    def _action(self, turn: _Turn, action: Any) -> None:
        if isinstance(action, models.ReplyAction):
            self.say(turn, action.reply)
        elif isinstance(action, models.SetSlotAction):
            for name, value in action.set_slot.items():
                self.forms.set_slot(turn, name, self._render(turn, value) if isinstance(value, str) else value)
        elif isinstance(action, models.ClearSlotAction):
            names = [action.clear_slot] if isinstance(action.clear_slot, str) else action.clear_slot
            for name in names:
                turn.state.slots.pop(name, None)
            turn.scope.invalidate("slots")
        elif isinstance(action, models.ClassifyAction):
            if self.nlu is not None:
                turn.understand()
        elif isinstance(action, models.HandoffAction):
            params = action.handoff if isinstance(action.handoff, models.HandoffParams) else models.HandoffParams()
            if params.response:
                self.say(turn, params.response)
            handoff: dict[str, Any] = {"queue": params.queue}
            if params.note:
                handoff["note"] = self._render(turn, params.note)
            turn.actions.append(Action(type="handoff", params=handoff))
        elif isinstance(action, models.RejectAction):
            reason = action.reject if isinstance(action.reject, str) else action.reject.reason
            self._reject(turn, self._render(turn, reason))
        elif isinstance(action, models.PublishAction):
            turn.actions.append(Action(type="publish", params=self._publish(turn, action.publish)))
        elif isinstance(action, models.EndFormAction):
            turn.state.active_form = None
            turn.state.form_step = None

    def _publish(self, turn: _Turn, spec: models.PublishParams) -> dict[str, Any]:
        params: dict[str, Any] = {"channel": spec.channel}
        for key in ("topic", "to"):
            value = getattr(spec, key)
            if value:
                params[key] = self._render(turn, value)
        if spec.text is not None:
            params["text"] = self._render(turn, spec.text)
        elif spec.response is not None:
            params["text"] = self._variant(turn, spec.response)[0]
        if spec.payload:
            params["payload"] = spec.payload
        return params

    def _reject(self, turn: _Turn, reason: str) -> None:
        turn.messages.append(OutboundMessage(text=reason))
        turn.actions.append(Action(type="reject", params={"reason": reason}))
        turn.trace.append("reject")
        turn.stopped = True

    # ----- responses ------------------------------------------------------------------------------------------

    def say(self, turn: _Turn, response: str) -> None:
        text, buttons = self._variant(turn, response)
        turn.messages.append(OutboundMessage.model_construct(text=text, buttons=list(buttons)))

    def _variant(self, turn: _Turn, response: str) -> tuple[str, tuple[str, ...]]:
        variants = languages.variants(self.bot, turn.language(), response)
        # Rotate through variations by turn number: varied over a conversation, reproducible in tests.
        variant = variants[(turn.state.version + len(turn.messages)) % len(variants)]
        return variant.template.render(turn.template_variables()), variant.buttons

    def _render(self, turn: _Turn, source: str) -> str:
        template = self.bot.templates.get(source)
        return template.render(turn.template_variables()) if template is not None else source


def _storable(message: InboundMessage) -> InboundMessage:
    """The message with lone UTF-16 surrogates replaced by U+FFFD.

    JSON lets a client send ``"\\ud800"``, which Python decodes to a string that cannot be encoded as UTF-8:
    CEL could not read it and the turn could not be saved, so one such message would lose the turn.
    """
    if _encodable(message.text) and all(_encodable(v) for v in message.metadata.values() if isinstance(v, str)):
        return message
    metadata = {k: _replace_surrogates(v) if isinstance(v, str) else v for k, v in message.metadata.items()}
    return message.model_copy(update={"text": _replace_surrogates(message.text), "metadata": metadata})


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _replace_surrogates(text: str) -> str:
    return "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)


def _zone(message: InboundMessage, default: tzinfo) -> tzinfo:
    """The user's time zone when the channel says which (``metadata.timezone``), else the bot's."""
    name = message.metadata.get(TIMEZONE_METADATA)
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            logger.debug("unknown time zone in message metadata", extra={"timezone": name[:64]})
    return default


class _Turn:
    """The working state of one attempt at a turn."""

    def __init__(
        self, engine: Engine, message: InboundMessage, state: ConversationState, nlu_cache: dict[str, NluResult]
    ) -> None:
        self.engine = engine
        self.message = message
        self.state = state
        #: The slots as the turn found them: what it set, and whether it changed the profile.
        self.slots_before = dict(state.slots)
        self.now = engine.clock()
        self.zone = _zone(message, engine.bot.timezone)
        self.nlu: NluResult | None = None
        self._nlu_cache = nlu_cache
        self.plugin_data: dict[str, dict[str, Any]] = {}
        self.messages: list[OutboundMessage] = []
        self.actions: list[Action] = []
        self.trace: list[str] = []
        self.considered: list[str] = []
        self.plugin_calls: list[PluginCall] = []
        self.stopped = False
        self.invalid_slot: str | None = None
        self.scope = Scope(self.cel_value)
        self._variables: dict[str, Any] | None = None

    @property
    def intent(self) -> str | None:
        return self.nlu.intent if self.nlu is not None else None

    def language(self) -> str:
        """The turn's language (clawline.languages), read live: a rule may set the ``language`` slot mid-turn."""
        return languages.turn_language(self.engine.bot, self.message, self.state.slots)

    def texts(self) -> list[str]:
        return [m.text for m in self.messages]

    def rewrite(self, text: str) -> None:
        """A plugin replaced the message text (redaction, translation): NLU, rules and storage see the new one."""
        self.message = self.message.model_copy(update={"text": text})
        self.scope.invalidate("text", "message")
        self._variables = None

    def understand(self) -> NluResult:
        """Run NLU once per message (the result is kept across retries of the same turn)."""
        if self.nlu is None:
            cached = self._nlu_cache.get("result")
            if cached is None:
                backend = self.engine.nlu
                if backend is None:
                    cached = NluResult(intent=None, confidence=0.0)
                else:
                    # "tomorrow" is the day after the engine's today in the user's (or the bot's) time zone.
                    # The turn's language picks its NLU model and how numbers are written.
                    token = enter_reference(Reference(self.now, self.language(), self.zone))
                    try:
                        cached = backend.parse(self.message.text)
                    finally:
                        exit_reference(token)
                self._nlu_cache["result"] = cached
            self.nlu = cached
            self.scope.invalidate("intent", "confidence", "entities", "nlu")
            self._variables = None
        return self.nlu

    def entity_map(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for entity in self.nlu.entities if self.nlu else []:
            found.setdefault(entity.entity, entity.value)
        return found

    def cel_value(self, name: str) -> Any:
        m, s = self.message, self.state
        if name == "text":
            return m.text
        if name == "intent":
            return self.intent
        if name == "slots":
            return dict(s.slots)
        if name == "channel":
            return m.channel.value
        if name == "confidence":
            return self.nlu.confidence if self.nlu else 0.0
        if name == "entities":
            return self.entity_map()
        if name == "sender":
            return m.sender
        if name == "form":
            return s.active_form
        if name == "nlu":
            if self.nlu is None:
                return {"intent": None, "confidence": 0.0, "ranking": [], "entities": []}
            return self.nlu.model_dump(mode="json")
        if name == "message":
            return {
                "id": m.message_id,
                "text": m.text,
                "channel": m.channel.value,
                "sender": m.sender,
                "conversation_id": m.conversation_id,
                "metadata": dict(m.metadata),
                "attachments": self.cel_value("attachments"),
            }
        if name == "attachments":
            return [a.model_dump(exclude={"url"}) for a in m.attachments]
        if name == "conversation_id":
            return m.conversation_id
        if name == "last_intents":
            return list(s.last_intents)
        if name == "last_intent":
            return s.last_intents[-1] if s.last_intents else None
        if name == "turns":
            return [{"user": t.user_text, "bot": list(t.bot_texts), "intent": t.intent} for t in s.recent_turns]
        if name == "turn_count":
            return s.version
        if name == "summary":
            return s.summary or ""
        if name == "is_new":
            return s.is_new
        if name == "now":
            return self.now
        if name == "hour":
            return self.now.astimezone(self.zone).hour
        if name == "weekday":
            # ISO: Monday is 1, Sunday is 7.
            return self.now.astimezone(self.zone).isoweekday()
        if name == "plugins":
            return self.plugin_data
        raise KeyError(name)

    def template_variables(self) -> dict[str, Any]:
        if self._variables is None:
            local = self.now.astimezone(self.zone)
            self._variables = {
                "text": self.message.text,
                "channel": self.message.channel.value,
                "sender": self.message.sender,
                "conversation_id": self.message.conversation_id,
                "intent": self.intent,
                "confidence": round(self.nlu.confidence, 2) if self.nlu else None,
                "entities": self.entity_map(),
                "form": self.state.active_form,
                "last_intent": self.state.last_intents[-1] if self.state.last_intents else None,
                "turn_count": self.state.version,
                "summary": self.state.summary or "",
                "metadata": self.message.metadata,
                "hour": local.hour,
                "weekday": local.isoweekday(),
            }
        if "turns" not in self._variables and self.engine.templates_use_turns:
            # Newest first, so `{turns.0.user}` is what the user said last time.
            self._variables["turns"] = [
                {"user": t.user_text, "bot": list(t.bot_texts), "intent": t.intent}
                for t in reversed(self.state.recent_turns)
            ]
        # Slots and plugin data change during a turn; they are read live.
        self._variables["slots"] = self.state.slots
        self._variables["plugins"] = self.plugin_data
        return self._variables

    def note_plugins(self, outcomes: Sequence[HookOutcome]) -> None:
        self.plugin_calls.extend(
            PluginCall.model_construct(plugin=o.plugin, hook=o.hook, ms=round(o.elapsed_ms, 3), failure=o.failure)
            for o in outcomes
        )

    def context(self) -> TurnContext:
        return TurnContext(
            message=self.message,
            bot=self.engine.bot.name,
            slots=MappingProxyType(dict(self.state.slots)),
            active_form=self.state.active_form,
            last_intents=tuple(self.state.last_intents),
            recent_turns=tuple(self.state.recent_turns),
            nlu=self.nlu,
            plugin_data=MappingProxyType({k: MappingProxyType(v) for k, v in self.plugin_data.items()}),
            now=self.now,
        )

    def record(self) -> Turn:
        if self.nlu is not None:
            self.state.remember_intent(self.nlu.intent)
        self.state.updated_at = self.now
        # model_construct: every field is built here from validated inputs; re-validating costs microseconds.
        return Turn.model_construct(
            seq=self.state.version + 1,
            message_id=self.message.message_id,
            channel=self.message.channel,
            user_text=self.message.text,
            bot_texts=[m.text for m in self.messages],
            intent=self.intent,
            confidence=self.nlu.confidence if self.nlu else None,
            slots_set=[k for k, v in self.state.slots.items() if self.slots_before.get(k) != v],
            created_at=self.now,
        )

    def reply(self, saved: ConversationState) -> Reply:
        return Reply.model_construct(
            message_id=self.message.message_id,
            conversation_id=self.message.conversation_id,
            messages=self.messages,
            actions=self.actions,
            intent=self.intent,
            confidence=round(self.nlu.confidence, 4) if self.nlu else None,
            entities=list(self.nlu.entities) if self.nlu else [],
            slots=dict(saved.slots),
            trace=self.trace,
            considered=self.considered,
            plugin_calls=self.plugin_calls,
        )
