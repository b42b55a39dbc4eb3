"""The numpy-free run time of the default model (``linear_runtime``) answers as the numpy model does.

Tolerance: every probability within 1e-5 of the numpy model's (the numpy model rounds features and products to
float32; the run time sums int8 rows exactly, so differences are float32 rounding: 3e-6 at most measured on the full
CLINC150 model). The top intent, the ranking and the out-of-scope decision are the same, except where the numpy
model's own numbers are closer than the tolerance (two intents tied, or a confidence on the threshold).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clawline.bot.loader import load_definition
from clawline.engine import nlu_inputs
from clawline.nlu.backend import NluEngine, build_backend, train_artifact
from clawline.nlu.entities import EntitiesSpec, EntityExtractor
from clawline.nlu.features import FeatureConfig
from clawline.nlu.linear import LinearModel, write_npz
from clawline.nlu.linear_runtime import RuntimeLinearModel, pack_row, pack_rows
from clawline.nlu.npz_views import read_npz
from clawline.nlu.recipe import LinearRecipe
from tests.unit.nlu.conftest import BANK_BOT, BANK_OOS

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_ARTIFACT = ROOT / "bots" / "default" / "model" / "nlu.npz"
TOLERANCE = 1e-5

#: Text no example has: unicode of several scripts, emoji, junk, repeats (n-grams counted more than once), long.
ODD_TEXTS = [
    "",
    "   ",
    "?!",
    "🍕🍕🍕",
    "\uff28\uff25\uff2c\uff2c\uff2f \uff54\uff48\uff45\uff52\uff45",  # full-width HELLO there
    "héllo thère, ça va?",
    "東京で ピザ を注文したい",
    "Привет, как дела",
    "مرحبا كيف حالك",
    "pizza pizza pizza pizza pizza",
    "the the the cat sat on the the mat mat",
    "banana bananas bandana",
    "x" * 3000,
    " ".join(["order a large pizza to my address please"] * 300),
    "a\u200bb\x00c\ufeffd",
    "\udcff\udcfe broken surrogates",
    "I'd like 2 pizzas, don't forget the cheese!!!",
    "0123456789 42 3.14",
]


def random_texts(vocabulary: list[str], n: int, seed: int) -> list[str]:
    """Messages made of the model's own words, mixed with unknown words, digits and other scripts."""
    rng = random.Random(seed)
    extra = ["zzqx", "日本", "ñandú", "42", "😀", "o'clock", "don't", "ÆØÅ", "ß"]
    pool = vocabulary + extra
    return [" ".join(rng.choice(pool) for _ in range(rng.randint(1, 25))) for _ in range(n)]


def assert_same_answers(path: Path, texts: list[str]) -> None:
    """The run time against the numpy model loaded from the same artifact, text by text."""
    pure, reference = RuntimeLinearModel.load(path), LinearModel.load(path)
    assert pure.labels == reference.labels
    assert (pure.threshold, pure.temperature) == (reference.threshold, reference.temperature)
    extractor = EntityExtractor(EntitiesSpec(builtins=[]))
    pure_engine, reference_engine = NluEngine(pure, extractor), NluEngine(reference, extractor)
    worst = 0.0
    for text in texts:
        expected = reference.probabilities(text)
        got = np.array(pure.probabilities(text))
        assert got.shape == expected.shape
        worst = max(worst, float(np.abs(got - expected).max()))
        assert abs(float(got.sum()) - 1.0) < 1e-9
        mine, theirs = pure_engine.parse(text), reference_engine.parse(text)
        assert abs(mine.confidence - theirs.confidence) <= TOLERANCE, text
        first, second = np.sort(expected)[::-1][:2] if len(expected) > 1 else (expected[0], -1.0)
        if first - second > TOLERANCE:
            assert int(got.argmax()) == int(expected.argmax()), text
            if abs(theirs.confidence - reference.threshold) > TOLERANCE:
                assert (mine.intent, mine.out_of_scope) == (theirs.intent, theirs.out_of_scope), text
        gaps = np.diff(np.sort(expected)[::-1][: len(theirs.ranking) + 2])
        if len(gaps) and float(np.abs(gaps).min()) > TOLERANCE:
            assert [s.intent for s in mine.ranking] == [s.intent for s in theirs.ranking], text
    assert worst <= TOLERANCE


def vocabulary(intents: dict[str, list[str]]) -> list[str]:
    return sorted({w for examples in intents.values() for e in examples for w in e.split()})


def test_the_default_bots_artifact_answers_as_the_numpy_model() -> None:
    definition, _ = load_definition(ROOT / "bots" / "default")
    intents = nlu_inputs(definition)["intents"]
    examples = [e for ex in intents.values() for e in ex]
    assert_same_answers(DEFAULT_ARTIFACT, examples + ODD_TEXTS + random_texts(vocabulary(intents), 300, seed=1))


@pytest.mark.parametrize(
    "features",
    [
        FeatureConfig(),  # the default: n-grams + static vector
        FeatureConfig(static_weight=0.0),  # n-grams only (artifacts before the static vector look like this)
        FeatureConfig(char_weight=0.6, word_ngrams=1, char_min=3, char_max=4),
    ],
    ids=["default", "ngrams-only", "other-ngrams"],
)
@pytest.mark.parametrize("oos", [True, False], ids=["oos-class", "no-oos-class"])
def test_bots_trained_with_any_recipe_answer_as_the_numpy_model(tmp_path, features, oos) -> None:
    recipe = LinearRecipe(features=features)
    model = train_artifact(BANK_BOT, oos_examples=BANK_OOS if oos else (), recipe=recipe, seed=2)
    model.save(tmp_path / "nlu.npz")
    texts = [e for ex in BANK_BOT.values() for e in ex] + BANK_OOS + ODD_TEXTS
    assert_same_answers(tmp_path / "nlu.npz", texts + random_texts(vocabulary(BANK_BOT), 200, seed=3))


def test_a_clinc150_slice_answers_as_the_numpy_model(tmp_path, clinc_slice) -> None:
    intents: dict[str, list[str]] = {}
    for text, label in clinc_slice["train"]:
        intents.setdefault(label, []).append(text)
    train_artifact(intents, oos_examples=[t for t, _ in clinc_slice["oos_train"][:50]]).save(tmp_path / "nlu.npz")
    texts = [t for t, _ in clinc_slice["test"]] + [t for t, _ in clinc_slice["oos_test"][:300]]
    assert_same_answers(tmp_path / "nlu.npz", texts + ODD_TEXTS + random_texts(vocabulary(intents), 200, seed=4))


def test_a_matching_artifact_is_parsed_without_importing_numpy(tmp_path) -> None:
    # A fresh interpreter: this one imported numpy long ago.
    probe = f"""
import sys
from pathlib import Path
from clawline.engine import nlu_inputs
from clawline.bot.loader import load_definition
from clawline.nlu.backend import build_backend
definition, _ = load_definition({str(ROOT / "bots" / "default")!r})
nlu = build_backend(**nlu_inputs(definition), artifact_path=Path({str(DEFAULT_ARTIFACT)!r}))
result = nlu.parse("i would like to order a large pizza")
print(nlu.source, type(nlu.model).__name__, result.intent, "numpy" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["artifact", "RuntimeLinearModel", "order_pizza", "False"]


def test_an_artifact_whose_arrays_do_not_load_is_retrained_not_an_error(tmp_path) -> None:
    good = train_artifact(BANK_BOT, oos_examples=BANK_OOS)
    good.save(tmp_path / "nlu.npz")
    arrays = {name: np.load(tmp_path / "nlu.npz")[name] for name in ("header", "keys", "idf", "scales")}
    write_npz(tmp_path / "broken.npz", {**arrays, "weights": np.zeros((3, 2), np.int8)})  # same header, no rows
    engine = build_backend(BANK_BOT, oos_examples=BANK_OOS, artifact_path=tmp_path / "broken.npz")
    assert engine.source == "memory"
    assert engine.parse("i lost my card").intent == "lost_card"


def test_compressed_and_foreign_npz_members(tmp_path) -> None:
    # A compressed artifact (written by other tools) reads the same; an object array is refused.
    train_artifact(BANK_BOT).save(tmp_path / "nlu.npz")
    with np.load(tmp_path / "nlu.npz") as data:
        np.savez_compressed(tmp_path / "zipped.npz", **{k: data[k] for k in data.files})
    assert RuntimeLinearModel.load(tmp_path / "zipped.npz").probabilities("block my card") == pytest.approx(
        RuntimeLinearModel.load(tmp_path / "nlu.npz").probabilities("block my card"), abs=1e-12
    )
    np.savez(tmp_path / "objects.npz", header=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="unsupported dtype"):
        read_npz(tmp_path / "objects.npz")
    json_header = json.loads(bytes(read_npz(tmp_path / "nlu.npz")["header"].data).decode("utf-8"))
    assert json_header["format"] == "clawline-nlu-linear"


def test_without_the_nlu_layer_a_bot_that_classifies_gets_the_keyword_matcher() -> None:
    # No static token table (the NLU layer is not attached): the engine falls back as it did without numpy.
    probe = f"""
from pathlib import Path
from clawline.nlu import static_table
static_table.TABLE_PATH = Path("/nonexistent/minilm-static.npz")
from clawline.bot.compiled import Bot
from clawline.engine import build_nlu
nlu = build_nlu(Bot.load(Path({str(ROOT / "bots" / "default")!r})))
print(type(nlu).__name__)
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["KeywordBackend"]


@pytest.mark.parametrize("lanes", [1, 2, 10, 151])
def test_a_block_of_rows_packs_as_its_rows_one_by_one(lanes: int) -> None:
    rows = np.random.default_rng(lanes).integers(-128, 128, size=(7, lanes), dtype=np.int8)
    block = memoryview(rows.tobytes()).cast("b")
    assert pack_rows(block, lanes) == [pack_row(block[i * lanes : (i + 1) * lanes], lanes) for i in range(7)]
