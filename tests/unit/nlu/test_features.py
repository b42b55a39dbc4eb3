"""The run-time featurizer (cached per word) must produce exactly the features training computed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawline.nlu.backend import NluEngine, build_backend
from clawline.nlu.features import Featurizer, words
from clawline.nlu.linear import LinearModel

from .conftest import BANK_BOT, BANK_OOS


def _featurizer(engine: NluEngine) -> Featurizer:
    model = engine.model
    assert isinstance(model, LinearModel)
    return model._featurizer


def _training_view(featurizer: Featurizer, text: str) -> tuple[np.ndarray, np.ndarray]:
    return featurizer.transform_hashes(*featurizer.hasher.hash(text), words(text))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(max_size=200)
    | st.lists(st.sampled_from([*"abc ", "card", "lost", "my", "balance"]), max_size=40).map(" ".join)
)
def test_run_time_features_equal_the_training_features_bit_for_bit(bank_engine: NluEngine, text: str):
    featurizer = _featurizer(bank_engine)
    expected = _training_view(featurizer, text)
    for _ in range(2):  # the second pass is served from the word and pair caches
        indices, values = featurizer.transform(text)
        assert indices.tolist() == expected[0].tolist()
        assert values.tobytes() == expected[1].tobytes()


def test_each_block_is_unit_length_and_the_bias_is_last(bank_engine: NluEngine):
    featurizer = _featurizer(bank_engine)
    indices, values = featurizer.transform("i lost my card, my card is lost")
    static = len(featurizer._static_indices)
    assert static == 256, "the default appends the static MiniLM vector after the bias"
    indices, values, dense = indices[:-static], values[:-static], values[-static:]
    assert float(np.linalg.norm(dense)) == pytest.approx(featurizer.config.static_weight, rel=1e-5)
    assert indices[-1] == featurizer.bias_index and values[-1] == 1.0
    assert len(set(indices.tolist())) == len(indices), "each n-gram appears once, with its count folded in"
    word_hashes, _ = featurizer.hasher.hash("i lost my card, my card is lost")
    index = featurizer.vocab.index()
    n_word = len({index[h] for h in word_hashes if h in index})
    word_block, char_block = values[:n_word], values[n_word:-1]
    assert float(np.linalg.norm(word_block)) == pytest.approx(1.0, rel=1e-5)
    assert float(np.linalg.norm(char_block)) == pytest.approx(featurizer.config.char_weight, rel=1e-5)


def test_word_caches_stay_bounded_and_correct(bank_engine: NluEngine):
    featurizer = Featurizer(_featurizer(bank_engine).config, _featurizer(bank_engine).vocab)
    featurizer._CACHE_LIMIT = 8
    texts = [f"card{i} balance{i} lost my card" for i in range(50)]
    for text in texts:
        indices, values = featurizer.transform(text)
        expected = _training_view(featurizer, text)
        assert indices.tolist() == expected[0].tolist() and values.tobytes() == expected[1].tobytes()
        assert len(featurizer._words) <= 8 and len(featurizer._pairs) <= 8


def test_an_out_of_scope_class_that_wins_rejects_even_a_confident_in_scope_runner_up():
    engine = build_backend(BANK_BOT, oos_examples=BANK_OOS)
    text = "what's the weather going to be like"
    model = engine.model
    probs = model.probabilities(text)
    assert model.labels[int(np.argmax(probs))] == "__out_of_scope__"
    model.threshold = 0.0  # any in-scope confidence would pass the threshold now
    result = engine.parse(text)
    assert result.intent is None
    assert result.ranking[0].intent != "__out_of_scope__"
    assert result.confidence == result.ranking[0].confidence == pytest.approx(float(np.sort(probs)[-2]))
