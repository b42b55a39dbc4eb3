"""settings.languages: responses per language, chosen from metadata.language, then the profile slot, then
detection, then the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from clawline import languages
from clawline.bot.loader import BotDefinitionError
from clawline.bot.compiled import Bot
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
    bot = Bot.load(make_engine(tmp_path, "name: mono\nsettings: {mode: rules}\n").bot.directory or tmp_path)
    assert bot.detector is None
