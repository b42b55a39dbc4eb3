"""Static MiniLM token vectors in the default backend, and what ``clawline train`` reports about a bot's data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clawline.bot.compiled import Bot
from clawline.cli import main as clawline
from clawline.engine import build_nlu
from clawline.errors import ConfigurationError
from clawline.nlu.advice import THIN, BackendScore, ExampleCounts, recommend
from clawline.nlu.backend import build_backend, train_artifact
from clawline.nlu.features import FeatureConfig
from clawline.nlu.linear import LinearModel, read_header
from clawline.nlu.static import static_embeddings
from clawline.nlu.training import LinearRecipe

from .conftest import BANK_BOT, BANK_OOS, write_bank_bot


def _cos(a: str, b: str) -> float:
    table = static_embeddings()
    return float(table.embed(a) @ table.embed(b))


@pytest.mark.parametrize(
    ("text", "near", "far"),
    [
        ("how much cash do i have", "what is my money balance", "play a song by queen"),
        ("book a car", "reserve an automobile", "what is the weather"),
        ("i lost my wallet", "my purse is missing", "set an alarm for 7"),
    ],
)
def test_static_vectors_put_paraphrases_with_no_shared_word_closer_than_unrelated_text(text, near, far):
    assert _cos(text, near) > _cos(text, far) + 0.1


def test_static_vectors_are_unit_length_and_empty_for_text_without_tokens():
    table = static_embeddings()
    assert float(np.linalg.norm(table.embed("Transfer 20 dollars to Émile"))) == pytest.approx(1.0, rel=1e-5)
    assert not table.embed("").any() and not table.embed("   ").any()


def test_an_artifact_without_static_features_still_loads_and_parses(tmp_path):
    # Artifacts written before the static block existed have no static keys in their header.
    model = train_artifact(
        BANK_BOT, oos_examples=BANK_OOS, recipe=LinearRecipe(features=FeatureConfig(static_weight=0))
    )
    model.save(tmp_path / "nlu.npz")
    header = read_header(np.load(tmp_path / "nlu.npz"))
    assert "static_weight" not in header["features"]
    loaded = LinearModel.load(tmp_path / "nlu.npz")
    assert loaded.weights.shape[0] == loaded.vocab.size + 1
    assert np.allclose(loaded.probabilities("block my card"), model.probabilities("block my card"))


def test_the_default_artifact_names_the_static_table_and_is_used_only_with_it(tmp_path):
    engine = build_backend(BANK_BOT, oos_examples=BANK_OOS)
    model = engine.model
    assert isinstance(model, LinearModel)
    model.save(tmp_path / "nlu.npz")
    header = read_header(np.load(tmp_path / "nlu.npz"))
    assert header["features"]["static_table"] == static_embeddings().name
    assert model.weights.shape[0] == model.vocab.size + 1 + static_embeddings().dim
    again = build_backend(BANK_BOT, oos_examples=BANK_OOS, artifact_path=tmp_path / "nlu.npz")
    assert again.source == "artifact"
    assert again.parse("i can't find my bank card").intent == "lost_card"


def test_thin_intents_are_listed_thinnest_first_with_the_examples_they_miss():
    counts = ExampleCounts.of({"a": ["x"] * 3, "b": ["x"] * 12, "c": ["x"] * 7}, ["nope"])
    assert [(t.intent, t.examples, t.missing) for t in counts.thin()] == [("a", 3, THIN - 3), ("c", 7, THIN - 7)]
    text = "\n".join(counts.summary())
    assert "3 intents, min 3, median 7, max 12; 1 out-of-scope" in text
    assert f"a (3: add {THIN - 3}), c (7: add {THIN - 7})" in text
    assert "no out-of-scope examples" in "\n".join(ExampleCounts.of({"a": ["x"] * 20}).summary())


def test_the_embedding_backend_is_recommended_only_for_a_measured_gap():
    linear = BackendScore("linear", 0.80, 0.79, 0.4, 0.2)
    close = BackendScore("embedding", 0.81, 0.80, 0.5, 5.0)
    ahead = BackendScore("embedding", 0.90, 0.88, 0.6, 5.0)
    assert recommend([linear, close])[0] == "linear"
    best, why = recommend([linear, ahead])
    assert best == "embedding" and "9.0 points" in why


def test_train_reports_thin_intents_and_compares_backends_by_cross_validation(tmp_path, capsys):
    bot = write_bank_bot(tmp_path / "bank")
    argv = ["train", "--bot", str(bot), "--folds", "3", "--embedding-model", str(tmp_path / "no-model")]
    assert clawline(argv) == 0
    out = capsys.readouterr().out
    assert "examples per intent: 4 intents, min 6, median 6, max 6" in out
    assert f"check_balance (6: add {THIN - 6})" in out
    assert "embedding backend not compared" in out  # no model here: said, not silently skipped
    assert "3-fold cross-validation on" in out and "linear" in out
    assert "recommended backend: linear" in out
    assert (bot / "model" / "nlu.npz").is_file()


def test_train_without_flags_names_thin_intents_and_says_how_to_compare_backends(tmp_path, capsys):
    bot = write_bank_bot(tmp_path / "bank")
    assert clawline(["train", "--bot", str(bot)]) == 0
    out = capsys.readouterr().out
    assert "examples per intent: 4 intents, min 6, median 6, max 6" in out
    assert f"thin intents (fewer than {THIN} examples" in out and f"transfer (6: add {THIN - 6})" in out
    # No cross-validation without --folds, but the one command that runs it is printed.
    assert "cross-validation on" not in out
    assert f"to compare backends on this data: clawline train --bot {bot} --folds 5" in out
    assert (bot / "model" / "nlu.npz").is_file()


def test_a_bot_yaml_backend_choice_wins_over_the_deployment_default(tmp_path):
    bot = Bot.load(write_bank_bot(tmp_path / "bank", "{mode: nlu, nlu_backend: embedding}"))
    with pytest.raises(ConfigurationError, match="embedding NLU backend"):
        build_nlu(bot, backend="linear", model_dir=tmp_path / "empty")


def test_train_folds_refuses_fewer_than_two_and_explains_an_intent_too_thin_to_split(tmp_path, capsys):
    data = tmp_path / "tiny.json"
    data.write_text(json.dumps({"intents": {"hi": ["hi", "hello", "hey"], "bye": ["bye"]}}), encoding="utf-8")
    out = tmp_path / "m.npz"
    assert clawline(["train", "--data", str(data), "--out", str(out), "--folds", "1"]) == 2
    assert "--folds needs at least 2" in capsys.readouterr().err
    assert clawline(["train", "--data", str(data), "--out", str(out), "--folds", "3"]) == 0
    printed = capsys.readouterr().out
    assert "cannot cross-validate: an intent has 1 example(s)" in printed
    assert "bye (1: add 9)" in printed
    assert out.is_file()


def test_an_artifact_trained_with_another_static_table_is_refused_with_a_clear_error(tmp_path):
    model = build_backend(BANK_BOT).model
    assert isinstance(model, LinearModel)
    model.save(tmp_path / "nlu.npz")
    data = dict(np.load(tmp_path / "nlu.npz"))
    header = read_header(data)
    header["features"]["static_table"] = "another-model:000000000000:256"
    data["header"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    np.savez(tmp_path / "other.npz", **data)
    with pytest.raises(ValueError, match="trained with static table another-model"):
        LinearModel.load(tmp_path / "other.npz")
