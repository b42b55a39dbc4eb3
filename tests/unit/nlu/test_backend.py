from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawline.errors import InvalidInputError
from clawline.nlu.backend import NluEngine, build_backend, train_artifact
from clawline.nlu.linear import LinearModel
from clawline.nlu.types import NluBackend

from .conftest import BANK_BOT, BANK_OOS


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("how much money is in my account", "check_balance"),
        ("please transfer 20 dollars to my brother", "transfer"),
        ("my card got stolen", "lost_card"),
        ("hello!", "greet"),
    ],
)
def test_unseen_paraphrases_get_the_right_intent(bank_engine: NluEngine, text, intent):
    result = bank_engine.parse(text)
    assert result.intent == intent
    assert result.ranking[0].intent == intent


def test_engine_satisfies_the_nlu_backend_protocol(bank_engine: NluEngine):
    backend: NluBackend = bank_engine
    assert backend.parse("hi").intent == "greet"


def test_confidences_form_a_ranking_of_probabilities(bank_engine: NluEngine):
    result = bank_engine.parse("i lost my wallet and my card")
    confidences = [s.confidence for s in result.ranking]
    assert confidences == sorted(confidences, reverse=True)
    assert all(0.0 <= c <= 1.0 for c in confidences)
    assert sum(confidences) <= 1.0 + 1e-6
    assert result.confidence == confidences[0]


def test_entities_come_with_the_intent_including_annotated_values(bank_engine: NluEngine):
    result = bank_engine.parse("send 40 dollars to alice tomorrow")
    found = {(e.entity, str(e.value)) for e in result.entities}
    assert ("recipient", "Alice") in found
    assert any(e.entity == "money" for e in result.entities)
    assert any(e.entity == "date" for e in result.entities)


def test_out_of_scope_examples_train_a_class_that_rejects_similar_messages():
    engine = build_backend(BANK_BOT, oos_examples=BANK_OOS)
    assert engine.parse("what's the weather going to be like").out_of_scope
    assert engine.parse("tell me a funny joke").out_of_scope
    assert engine.parse("what is my balance").intent == "check_balance"
    assert all(s.intent != "__out_of_scope__" for s in engine.parse("tell me a joke").ranking)


BAD_INPUTS = [
    "",
    "   \n\t ",
    "🙂🙂🙂 🎉",
    "x" * 100_000,
    "\x00\x01\x02\xff\xfe binary \ufffd\ufffd",
    "\ud800 lone surrogate",
    "hello 你好 привет مرحبا",
    "?!?!...;;;",
    "a" * 5000 + " " + "b" * 5000,
]


@pytest.mark.parametrize("text", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
def test_bad_input_never_raises_and_is_out_of_scope_or_a_valid_result(bank_engine: NluEngine, text):
    result = bank_engine.parse(text)
    assert result.intent is None or result.intent in BANK_BOT
    assert 0.0 <= result.confidence <= 1.0


@pytest.mark.parametrize("text", ["", "   ", "🙂🙂", "x" * 100_000, "?!"])
def test_text_with_nothing_to_read_is_out_of_scope(bank_engine: NluEngine, text):
    assert bank_engine.parse(text).out_of_scope


def test_non_text_input_is_a_clear_validation_error(bank_engine: NluEngine):
    with pytest.raises(InvalidInputError, match="must be text"):
        bank_engine.parse(b"hello")  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_any_unicode_text_parses_without_error(bank_engine: NluEngine, text):
    result = bank_engine.parse(text)
    assert result.intent is None or result.intent in BANK_BOT


def test_training_is_deterministic_for_a_seed(tmp_path):
    a = train_artifact(BANK_BOT, seed=3)
    b = train_artifact(BANK_BOT, seed=3)
    assert np.array_equal(a.weights, b.weights)
    assert (a.threshold, a.temperature) == (b.threshold, b.temperature)
    assert np.array_equal(a.vocab.keys, b.vocab.keys)
    assert a.meta["fingerprint"] == b.meta["fingerprint"]


def test_saved_artifact_is_loaded_when_it_matches_the_examples(tmp_path):
    path = tmp_path / "model" / "nlu.npz"
    train_artifact(BANK_BOT, seed=0).save(path)
    engine = build_backend(BANK_BOT, artifact_path=path)
    assert engine.source == "artifact"
    fresh = build_backend(BANK_BOT)
    for text in ["check my balance", "i lost my card", "hey"]:
        assert engine.parse(text).intent == fresh.parse(text).intent


def test_stale_artifact_is_ignored_and_the_bot_is_trained_in_memory(tmp_path):
    path = tmp_path / "nlu.npz"
    train_artifact(BANK_BOT, seed=0).save(path)
    changed = {**BANK_BOT, "goodbye": ["bye", "see you later", "goodbye", "talk to you soon", "bye bye", "later"]}
    engine = build_backend(changed, artifact_path=path)
    assert engine.source == "memory"
    assert engine.parse("see you soon, bye").intent == "goodbye"


def test_missing_or_corrupt_artifact_falls_back_to_training(tmp_path):
    corrupt = tmp_path / "nlu.npz"
    corrupt.write_bytes(b"not a zip file")
    assert build_backend(BANK_BOT, artifact_path=corrupt).source == "memory"
    assert build_backend(BANK_BOT, artifact_path=tmp_path / "absent.npz").source == "memory"


def test_artifact_round_trip_gives_identical_probabilities(tmp_path, bank_engine: NluEngine):
    model = bank_engine.model
    assert isinstance(model, LinearModel)
    model.save(tmp_path / "m.npz")
    loaded = LinearModel.load(tmp_path / "m.npz")
    for text in ["balance please", "card stolen", "good morning"]:
        assert np.allclose(model.probabilities(text), loaded.probabilities(text))


def test_a_single_example_per_intent_still_trains():
    engine = build_backend({"yes": ["yes"], "no": ["no"]})
    assert engine.parse("yes").intent == "yes"
    assert engine.parse("no").ranking[0].intent == "no"


def test_importing_the_default_backend_loads_neither_scikit_learn_nor_onnxruntime():
    code = (
        "import sys; import clawline.nlu.backend, clawline.nlu.linear;"
        "bad = [m for m in ('sklearn', 'scipy', 'onnxruntime', 'torch') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_memory_mapped_artifact_reads_the_same_arrays_as_numpy(tmp_path, bank_engine: NluEngine):
    from clawline.nlu.linear import map_npz

    model = bank_engine.model
    assert isinstance(model, LinearModel)
    model.save(tmp_path / "m.npz")
    mapped = map_npz(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as plain:
        assert set(plain.files) == set(mapped)
        for name in plain.files:
            assert np.array_equal(plain[name], mapped[name])
    # A compressed .npz written by other tools is still read (without the memory map).
    np.savez_compressed(tmp_path / "c.npz", **mapped)
    assert np.array_equal(map_npz(tmp_path / "c.npz")["weights"], model.weights)


def test_retraining_over_a_loaded_artifact_does_not_disturb_the_loaded_model(tmp_path):
    path = tmp_path / "nlu.npz"
    train_artifact(BANK_BOT, seed=0).save(path)
    loaded = LinearModel.load(path)
    before = loaded.probabilities("what is my balance").copy()
    train_artifact({**BANK_BOT, "thanks": ["thanks", "thank you", "cheers"]}, seed=1).save(path)
    assert np.array_equal(loaded.probabilities("what is my balance"), before)
