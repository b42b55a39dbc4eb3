"""settings.languages: responses per language, chosen from metadata.language, then the profile slot, then
detection, then the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from clawline import languages
from clawline.bot.loader import BotDefinitionError
from clawline.language_detection import LanguageDetector
from clawline.languages import normalize

from .helpers import make_engine, say

BOT = """
name: polyglot
settings: {mode: rules, language: en, languages: [en, fr, de]}
responses:
  greet:
    en: ["Hello!"]
    fr: ["Bonjour !"]
    de: ["Hallo!"]
  only_english: ["Only in English, {sender}."]
  partly:
    en: ["Partly in English."]
    fr: ["En partie en français."]
rules:
  - name: greet
    when: text.matches("(?i)^(hi|hello|bonjour|salut|hallo|guten tag)")
    then: [{reply: greet}]
  - name: english
    when: text.matches("(?i)anglais|english|englisch")
    then: [{reply: only_english}]
  - name: partly
    when: text.matches("(?i)partly|partie|teilweise")
    then: [{reply: partly}]
"""


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_engine(tmp_path, BOT)


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("hello there", "fr", "Bonjour !"),  # metadata wins over the text
        ("hello there", "fr-CA", "Bonjour !"),
        ("hello there", "DE", "Hallo!"),
        ("bonjour, je voudrais une pizza", None, "Bonjour !"),  # detected
        ("hallo, ich möchte bitte eine Pizza", None, "Hallo!"),
        ("hello, I would like a pizza", None, "Hello!"),
        ("hello", "es", "Hello!"),  # a language the bot does not speak: detection, then the default
    ],
)
def test_the_reply_is_in_the_turns_language(engine, text: str, language: str | None, expected: str) -> None:  # type: ignore[no-untyped-def]
    metadata = {"language": language} if language else {}
    assert say(engine, text, metadata=metadata).texts == [expected]


def test_a_missing_response_falls_back_to_the_default_language_with_a_warning(
    engine,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    warnings: list[tuple[str, dict[str, str]]] = []
    monkeypatch.setattr(languages.logger, "warning", lambda msg, extra: warnings.append((msg, extra)))
    languages.warn_once.cache_clear()
    assert say(engine, "anglais s'il vous plait", metadata={"language": "fr"}).texts == ["Only in English, u1."]
    assert say(engine, "teilweise bitte", metadata={"language": "de"}).texts == ["Partly in English."]
    assert [extra for _, extra in warnings] == [
        {"bot": "polyglot", "language": "fr", "response": "only_english"},
        {"bot": "polyglot", "language": "de", "response": "partly"},
    ]
    assert all("missing in the turn's language" in msg for msg, _ in warnings)


def test_a_one_language_bot_is_unchanged(tmp_path: Path) -> None:
    engine = make_engine(
        tmp_path,
        "name: mono\nsettings: {mode: rules}\nresponses:\n  hi: [Hi]\nrules:\n  - name: hi\n    then: [{reply: hi}]\n",
    )
    assert say(engine, "bonjour, je voudrais une pizza", metadata={"language": "fr"}).texts == ["Hi"]


@pytest.mark.parametrize(
    ("settings", "responses", "problem"),
    [
        ("{language: en, languages: [en]}", "{hi: {en: [Hi], fr: [Salut]}}", "'fr' is not in settings.languages"),
        ("{language: en, languages: [en, fr]}", "{hi: {fr: [Salut]}}", "no variants in the default language 'en'"),
        ("{language: en, languages: [fr]}", "{hi: [Hi]}", "default language 'en' is not in the list"),
    ],
)
def test_language_mistakes_are_refused_at_validation(
    tmp_path: Path, settings: str, responses: str, problem: str
) -> None:
    text = f"name: bad\nsettings: {settings}\nresponses: {responses}\n"
    with pytest.raises(BotDefinitionError) as exc:
        make_engine(tmp_path, text, base_responses=False)
    assert problem in str(exc.value)


def test_detection_needs_a_clear_winner_and_normalize_reads_language_tags(engine) -> None:  # type: ignore[no-untyped-def]
    detector = engine.bot.detector
    assert detector.detect("merci beaucoup") == "fr"
    assert detector.detect("thank you") == "en"
    assert detector.detect("pizza") is None  # no evidence either way
    assert LanguageDetector({"en": ["hello"]}).detect("merci") is None  # one language: nothing to detect
    assert normalize("pt_BR") == "pt" and normalize("") is None and normalize(12) is None


def test_a_one_language_bot_has_no_detector(tmp_path: Path) -> None:
    assert make_engine(tmp_path, "name: mono\nsettings: {mode: rules}\n").bot.detector is None


# ----- the order: metadata > profile slot > detection > default ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "metadata", "slot", "expected"),
    [
        ("hello, I would like a pizza", "fr", "de", "fr"),  # metadata first
        ("hello, I would like a pizza", None, "de", "de"),  # then the user's language slot
        ("hello, I would like a pizza", "ja-JP", "DE-at", "de"),  # undeclared metadata is passed over
        ("bonjour, je voudrais une pizza", None, None, "fr"),  # then detection
        ("bonjour, je voudrais une pizza", None, "es", "fr"),  # a slot in an undeclared language too
        ("pizza", None, None, "en"),  # then the default
    ],
)
def test_the_turns_language_is_metadata_then_profile_then_detection_then_default(
    engine,  # type: ignore[no-untyped-def]
    text: str,
    metadata: str | None,
    slot: str | None,
    expected: str,
) -> None:
    from .helpers import message

    msg = message(text, metadata={"language": metadata} if metadata else {})
    slots = {"language": slot} if slot else {}
    assert languages.turn_language(engine.bot, msg, slots) == expected


def test_a_rule_that_sets_the_language_slot_changes_the_reply_language(tmp_path: Path) -> None:
    engine = make_engine(
        tmp_path,
        """
        name: switcher
        settings: {mode: rules, language: en, languages: [en, fr]}
        slots:
          language: {values: [en, fr]}
        responses:
          ok: {en: [OK], fr: [Entendu]}
        rules:
          - name: french
            when: text == "french please"
            then: [{set_slot: {language: fr}}, {reply: ok}]
          - name: other
            then: [{reply: ok}]
        """,
    )
    assert say(engine, "french please").texts == ["Entendu"]  # set in this very turn
    assert say(engine, "ok").texts == ["Entendu"]  # remembered
    assert say(engine, "ok", conversation="c2").texts == ["OK"]  # another conversation: the default


# ----- NLU data per language: inline mappings and language files --------------------------------------------------

TWO_LANGUAGES = """
name: pizzeria
settings: {mode: nlu, language: en, languages: [en, es, fr]}
intents:
  greet: {examples: {en: [hi, hello, good morning], es: [hola, buenos días, buenas]}}
out_of_scope: {en: [tell me a joke], es: [cuéntame un chiste]}
responses:
  greet: {en: [Hello!], es: [¡Hola!]}
"""
WITH_FILES = TWO_LANGUAGES.replace("fr]}", "fr], include: [nlu/*.yaml]}")
ORDER_FILES = {
    "nlu__order.yaml": "intents:\n  order: {examples: [I want a pizza, a pizza please, one pizza]}\n",
    "nlu__order_es.yaml": "language: es\nintents:\n  order: {examples: [quiero una pizza, una pizza por favor]}\n"
    "out_of_scope: [¿qué tiempo hace?]\nresponses:\n  order: [¡Marchando!]\n",
}


def test_examples_per_language_inline_and_in_language_files(tmp_path: Path) -> None:
    bot = make_engine(tmp_path, WITH_FILES + "  order: [Coming up!]\n", **ORDER_FILES).bot
    d = bot.definition
    assert d.nlu_languages() == ("en", "es")  # fr is declared but has no examples
    assert d.intent_examples() == {
        "greet": ["hi", "hello", "good morning"],
        "order": ["I want a pizza", "a pizza please", "one pizza"],
    }
    assert d.intent_examples("es") == {
        "greet": ["hola", "buenos días", "buenas"],
        "order": ["quiero una pizza", "una pizza por favor"],
    }
    assert d.oos_examples("es") == ["cuéntame un chiste", "¿qué tiempo hace?"]
    assert d.intent_examples("fr") == {}
    assert bot.translations["es"]["order"][0].template.source == "¡Marchando!"


def test_a_one_language_bot_keeps_its_examples_and_model_inputs(tmp_path: Path) -> None:
    from clawline.engine import nlu_inputs

    bot = make_engine(tmp_path, "name: mono\nintents:\n  hi: {examples: [hi, hello]}\nout_of_scope: [weather]\n").bot
    inputs = nlu_inputs(bot.definition)
    assert (inputs["intents"], inputs["oos_examples"]) == ({"hi": ["hi", "hello"]}, ["weather"])
    assert bot.definition.nlu_languages() == ("en",)


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        (
            {"nlu__a.yaml": "language: es\nintents:\n  greet: {examples: [hola otra vez]}\n"},
            "intents.greet.examples.es: defined twice (first defined at",
        ),
        (
            {"nlu__a.yaml": "language: de\nintents:\n  greet: {examples: [hallo]}\n"},
            "'de' is not in settings.languages",
        ),
        ({"nlu__a.yaml": "language: es\nrules: []\n"}, "rules: not allowed in a language file"),
        ({"nlu__a.yaml": "language: Spanish\nintents: {}\n"}, "language: must be a language code"),
        (
            {"nlu__a.yaml": "language: es\nintents:\n  greet: {examples: [hola], description: x}\n"},
            "intents.greet: a language file gives only `examples`",
        ),
        (
            {"nlu__a.yaml": "language: es\nintents:\n  bye: {examples: [adiós]}\n"},
            "intents.bye.examples: no examples in the default language 'en'",
        ),
    ],
)
def test_language_file_mistakes_name_the_file_and_field(tmp_path: Path, files: dict[str, str], problem: str) -> None:
    with pytest.raises(BotDefinitionError) as exc:
        make_engine(tmp_path, WITH_FILES, **files)
    assert problem in str(exc.value)
    if "defined twice" not in problem and "default language" not in problem:
        assert "nlu/a.yaml" in str(exc.value)


def test_inline_examples_in_an_undeclared_language_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BotDefinitionError) as exc:
        make_engine(tmp_path, "name: x\nintents:\n  hi: {examples: {en: [hi], it: [ciao]}}\n")
    assert "intents.hi.examples.it: language 'it' is not in settings.languages" in str(exc.value)


# ----- one model per language, built when a turn in that language needs it ---------------------------------------


class CountingNlu:
    """A scripted backend per language that records what it was asked."""

    def __init__(self, language: str, built: list[str]) -> None:
        built.append(language)
        self.language = language

    def parse(self, text: str):  # type: ignore[no-untyped-def]
        from clawline.nlu.types import IntentScore, NluResult

        intent = "greet" if text.lower().startswith(("hi", "hello", "hola", "buen")) else None
        ranking = [IntentScore(intent=intent, confidence=0.9)] if intent else []
        return NluResult(intent=intent, confidence=0.9 if intent else 0.1, ranking=ranking)


def test_each_language_model_is_built_on_its_first_turn_and_others_never(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import clawline.engine as engine_module
    from clawline.engine import Engine
    from clawline.nlu.per_language import PerLanguageNlu
    from clawline.store.memory import InMemoryConversationStore

    built: list[str] = []
    monkeypatch.setattr(
        engine_module,
        "_build_language_nlu",
        lambda bot, language, **kw: CountingNlu(language, built),
    )
    rules = "rules:\n  - {name: ping, when: 'text == \"ping\"', then: [{reply: greet}]}\n"
    bot = make_engine(tmp_path, TWO_LANGUAGES.replace("mode: nlu", "mode: hybrid") + rules).bot
    nlu = engine_module.build_nlu(bot)
    assert isinstance(nlu, PerLanguageNlu) and built == []
    engine = Engine(bot, InMemoryConversationStore(), nlu=nlu)

    assert say(engine, "ping").texts == ["Hello!"]  # the rules answer: no model at all
    assert built == []
    assert say(engine, "hola, buenos días").texts == ["¡Hola!"]  # Spanish: only the Spanish model
    assert built == ["es"]
    assert say(engine, "hola", metadata={"language": "es"}).texts == ["¡Hola!"]
    assert built == ["es"]  # built once
    assert say(engine, "hello, good morning").texts == ["Hello!"]
    assert built == ["es", "en"]


def test_a_language_without_examples_is_classified_by_the_default_model_with_a_warning(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import clawline.engine as engine_module
    from clawline.engine import Engine
    from clawline.store.memory import InMemoryConversationStore

    built: list[str] = []
    monkeypatch.setattr(engine_module, "_build_language_nlu", lambda bot, language, **kw: CountingNlu(language, built))
    warnings: list[dict[str, str]] = []
    monkeypatch.setattr(languages.logger, "warning", lambda msg, extra: warnings.append(extra))
    languages.warn_once.cache_clear()
    bot = make_engine(tmp_path, TWO_LANGUAGES).bot
    engine = Engine(bot, InMemoryConversationStore(), nlu=engine_module.build_nlu(bot))
    # French is declared but has no examples (and no responses): English model, English reply.
    assert say(engine, "hello", metadata={"language": "fr"}).texts == ["Hello!"]
    assert say(engine, "hello", metadata={"language": "fr"}).texts == ["Hello!"]
    assert built == ["en"]
    assert {"bot": "pizzeria", "language": "fr", "nlu_model": "en"} in warnings
    assert sum(1 for w in warnings if "nlu_model" in w) == 1  # once per container
