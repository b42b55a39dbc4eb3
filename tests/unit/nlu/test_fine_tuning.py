"""Fine-tuning the embedding backend's encoder on a bot's examples (``settings.nlu_fine_tune``).

The fast tests check the configuration and the error without the fine-tune venv. The one that fine-tunes runs
the real worker in ``.venv-finetune`` (torch) on a tiny bot, a few minutes on 2 cores: ``make test-finetune``
runs it (``CLAWLINE_FINETUNE_TESTS=1``); ``make test`` skips it so that it never installs torch.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from clawline.bot.models import BotSettings
from clawline.cli import main as clawline

from .conftest import BANK_BOT, write_bank_bot

REPO = Path(__file__).resolve().parents[3]
FT_PYTHON = REPO / ".venv-finetune" / "bin" / "python"


def test_fine_tuning_is_refused_for_a_backend_without_an_encoder():
    with pytest.raises(ValidationError, match=r"nlu_fine_tune .* set nlu_backend: embedding"):
        BotSettings(nlu_fine_tune=True)
    with pytest.raises(ValidationError, match="nlu_backend: embedding"):
        BotSettings(nlu_backend="linear", nlu_fine_tune=True)
    assert BotSettings(nlu_backend="embedding", nlu_fine_tune=True).nlu_fine_tune


def test_training_a_fine_tune_bot_without_the_fine_tune_venv_names_the_install_command(tmp_path, capsys, monkeypatch):
    bot = write_bank_bot(tmp_path / "bank", "{mode: nlu, nlu_backend: embedding, nlu_fine_tune: true}")
    monkeypatch.setenv("CLAWLINE_FINETUNE_PYTHON", str(tmp_path / "no-venv" / "bin" / "python"))
    assert clawline(["train", "--bot", str(bot)]) == 1
    err = capsys.readouterr().err
    assert "needs torch in its own venv: run make finetune" in err
    # Nothing half-written: neither the bot's encoder nor a head trained on the shared one.
    assert not (bot / "model" / "minilm").exists()
    assert not (bot / "model" / "nlu-embedding.npz").exists()


def test_fine_tune_flag_is_refused_for_the_linear_backend(tmp_path, capsys):
    bot = write_bank_bot(tmp_path / "bank", "{mode: nlu}")
    assert clawline(["train", "--bot", str(bot), "--fine-tune"]) == 1
    assert "fine-tuning is for the embedding backend" in capsys.readouterr().err


def test_train_suggests_fine_tuning_only_for_a_bot_with_few_examples_per_intent():
    from clawline.nlu.advice import ExampleCounts, fine_tune_hint

    few = fine_tune_hint(ExampleCounts.of({"a": ["x"] * 10, "b": ["y"] * 12}))
    assert "nlu_fine_tune: true" in "\n".join(few)
    assert fine_tune_hint(ExampleCounts.of({"a": ["x"] * 30, "b": ["y"] * 40})) == []


RECIPE_OF_ARGS = """
import dataclasses, json, sys
sys.path.insert(0, "tools/nlu")
import fine_tune_minilm as tool
args = tool.parse_args([*sys.argv[1:], "--examples", "x", "--out", "y"])
print(json.dumps(dataclasses.asdict(tool.recipe_from(args))))
"""


def _recipe(args: list[str], env: dict[str, str]) -> dict[str, object]:
    done = subprocess.run(
        [str(FT_PYTHON), "-c", RECIPE_OF_ARGS, *args],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if not k.startswith("CLAWLINE_FT_")} | env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


@pytest.mark.skipif(not FT_PYTHON.is_file(), reason="needs the fine-tune venv (torch): make finetune")
def test_the_fine_tune_recipe_is_the_default_and_each_knob_can_be_set_by_option_or_environment():
    assert _recipe([], {}) == {
        "epochs": 3,
        "min_steps": 30,
        "learning_rate": 2e-5,
        "per_intent": 2,
        "intents_per_batch": 32,
        "oos_per_batch": 4,
        "scale": 20.0,
    }
    # clawline train and the benchmarks run the worker themselves: the environment reaches it; an option wins.
    tuned = _recipe(
        ["--per-intent", "4", "--scale", "30"],
        {"CLAWLINE_FT_EPOCHS": "8", "CLAWLINE_FT_LR": "4e-5", "CLAWLINE_FT_PER_INTENT": "3"},
    )
    assert (tuned["epochs"], tuned["learning_rate"], tuned["per_intent"], tuned["scale"]) == (8, 4e-5, 4, 30.0)


@pytest.mark.skipif(
    not os.environ.get("CLAWLINE_FINETUNE_TESTS") or not FT_PYTHON.is_file(),
    reason="fine-tunes MiniLM with torch for minutes: make test-finetune",
)
@pytest.mark.timeout(1200)
def test_a_fine_tuned_bot_carries_its_own_encoder_and_the_engine_uses_it(tmp_path, capsys, monkeypatch):
    pytest.importorskip("onnxruntime")
    from clawline.bot.compiled import Bot
    from clawline.engine import nlu_factory
    from clawline.nlu.annotations import parse_annotated
    from clawline.nlu.backend import NluEngine
    from clawline.nlu.embedding import EmbeddingModel

    monkeypatch.setenv("CLAWLINE_FINETUNE_PYTHON", str(FT_PYTHON))
    bot_dir = write_bank_bot(tmp_path / "bank", "{mode: nlu, nlu_backend: embedding, nlu_fine_tune: true}")
    assert clawline(["train", "--bot", str(bot_dir)]) == 0
    out = capsys.readouterr().out
    assert "fine-tuned in" in out and "exported int8 ONNX" in out
    encoder_dir = bot_dir / "model" / "minilm"
    assert {p.name for p in encoder_dir.iterdir()} >= {"model.onnx", "vocab.txt", "manifest.json"}

    # The engine loads the bot's encoder (not the deployment's) and the head trained on it, without training.
    nlu = nlu_factory("embedding", tmp_path / "no-shared-model")(Bot.load(bot_dir))
    assert isinstance(nlu, NluEngine) and isinstance(nlu.model, EmbeddingModel)
    assert nlu.model.encoder.model_dir == encoder_dir
    assert nlu.source == "artifact"
    # Messages the bot never saw go to their intents; small talk is out of scope or at least not a transfer.
    assert nlu.parse("how much cash is in my account").intent == "check_balance"
    assert nlu.parse("my card is gone, please block it").intent == "lost_card"
    assert nlu.parse("send 20 dollars to my brother").intent == "transfer"

    # What fine-tuning is for: each example's nearest other example belongs to its own intent.
    texts = [parse_annotated(t).text for examples in BANK_BOT.values() for t in examples]
    labels = np.array([i for i, examples in enumerate(BANK_BOT.values()) for _ in examples])
    vectors = nlu.model.encoder.encode(texts)
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -1.0)
    assert (labels[similarity.argmax(axis=1)] == labels).all()
