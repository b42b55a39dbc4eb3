"""The engine builds the bot's NLU from its definition, and a trained artifact is used when it matches."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from clawline.bot.compiled import Bot
from clawline.engine import default_nlu_factory, nlu_inputs

from .helpers import BASE, write_bot

backend = pytest.importorskip("clawline.nlu.backend")

DEFAULT_BOT = Path(__file__).resolve().parents[3] / "bots" / "default"


def test_the_bot_entities_reach_the_nlu_extractor(tmp_path):
    text = (
        BASE
        + """
intents:
  order: {examples: [i want a pizza, a pizza please, order pizza]}
  bye: {examples: [bye, goodbye, see you]}
entities:
  size: {lookup: [small, large], synonyms: {large: [big, huge]}}
  code: {regex: ['#[0-9]{4}']}
"""
    )
    nlu = default_nlu_factory(Bot.load(write_bot(tmp_path, text)))
    assert nlu is not None
    result = nlu.parse("a big pizza for #1234")
    found = {(e.entity, e.value) for e in result.entities}
    assert ("size", "large") in found
    assert ("code", "#1234") in found


def test_an_artifact_trained_from_nlu_inputs_is_loaded_instead_of_training(tmp_path):
    bot_dir = tmp_path / "bot"
    shutil.copytree(DEFAULT_BOT, bot_dir, ignore=shutil.ignore_patterns("model"))
    bot = Bot.load(bot_dir)
    inputs = nlu_inputs(bot.definition)
    model = backend.train_artifact(inputs["intents"], oos_examples=inputs["oos_examples"])
    (bot_dir / "model").mkdir()
    assert getattr(default_nlu_factory(Bot.load(bot_dir)), "source", None) == "memory"  # no artifact: trains
    model.save(bot_dir / "model" / "nlu.npz")
    nlu = default_nlu_factory(Bot.load(bot_dir))
    assert getattr(nlu, "source", None) == "artifact"
    assert nlu.parse("hello there").intent == "greet"


def test_a_bot_without_intents_or_entities_has_no_nlu(tmp_path):
    assert default_nlu_factory(Bot.load(write_bot(tmp_path, BASE))) is None


def test_the_default_bot_ships_an_artifact_matching_its_examples():
    nlu = default_nlu_factory(Bot.load(DEFAULT_BOT))
    assert getattr(nlu, "source", None) == "artifact", "stale bots/default/model/nlu.npz: see its README to retrain"


DATE_BOT = (
    BASE.replace("settings: {mode: hybrid}", "settings: {mode: hybrid, timezone: Asia/Tokyo}")
    + """
intents:
  book: {examples: [book a table]}
slots:
  day: {entity: date, ask: ask_day}
responses:
  ask_day: ["Which day?"]
  booked: ["Booked for {slots.day}."]
rules:
  - {name: book, when: intent == "book", require: [day], then: [{reply: booked}]}
"""
)


class _Extracting:
    """A classifier stand-in that extracts entities with the real extractor (the part under test)."""

    def __init__(self) -> None:
        from clawline.nlu.entities import EntitiesSpec, EntityExtractor

        self.extractor = EntityExtractor(EntitiesSpec())

    def parse(self, text):
        from clawline.nlu.types import NluResult

        intent = "book" if "book" in text else None
        return NluResult(intent=intent, confidence=0.9 if intent else 0.1, entities=self.extractor.extract(text))


def test_relative_dates_come_from_the_engine_clock_in_the_bot_or_user_time_zone(tmp_path):
    from datetime import UTC, datetime

    from .helpers import make_engine, say

    late_friday = datetime(2031, 5, 2, 20, 0, tzinfo=UTC)  # already Saturday the 3rd in Tokyo
    engine = make_engine(tmp_path, DATE_BOT, nlu=_Extracting(), now=late_friday)
    assert say(engine, "book a table tomorrow").texts == ["Booked for 2031-05-04."]
    # A channel that knows the user's zone passes it in the message metadata.
    reply = say(engine, "book a table tomorrow", conversation="c2", metadata={"timezone": "America/New_York"})
    assert reply.texts == ["Booked for 2031-05-03."]
    # An unknown zone name is ignored (the bot's zone applies), never an error.
    reply = say(engine, "book a table tomorrow", conversation="c3", metadata={"timezone": "../etc/passwd"})
    assert reply.texts == ["Booked for 2031-05-04."]


def test_a_bot_regex_entity_applies_its_synonyms_in_both_backends(tmp_path):
    from clawline.bot.keyword_nlu import KeywordBackend

    text = BASE + (
        "intents:\n  a: {examples: [balance of checking, show my account]}\n  b: {examples: [hello, hi there]}\n"
        "entities:\n  acct:\n    regex: ['(?i)\\b(?:chk|checking)\\b']\n    synonyms: {checking: [chk]}\n"
    )
    bot = Bot.load(write_bot(tmp_path, text))
    for nlu in (default_nlu_factory(bot), KeywordBackend({}, bot.definition.entities)):
        assert nlu is not None
        assert [(e.entity, e.value) for e in nlu.parse("balance of chk").entities] == [("acct", "checking")]


def test_clawline_test_now_reproduces_a_story_with_a_relative_date(tmp_path, capsys):
    from clawline.cli import main

    intents = "book: {examples: [book a table, reserve a table]}\n  hi: {examples: [hello, good morning]}"
    story = "stories:\n  - name: s\n    steps:\n      - {user: book a table for tomorrow, bot: Booked for 2031-05-04.}"
    text = DATE_BOT.replace("book: {examples: [book a table]}", intents)
    bot = write_bot(tmp_path / "bot", text, **{"stories__s.yaml": story})
    # 20:00 UTC on Friday 2 May is Saturday 3 May in Tokyo: tomorrow is the 4th, on any host, on any day.
    assert main(["test", str(bot), "--now", "2031-05-02T20:00:00+00:00"]) == 0, capsys.readouterr().out
    assert main(["test", str(bot), "--now", "2031-05-02T10:00:00+00:00"]) == 1  # the 3rd in Tokyo: not the 4th
