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
