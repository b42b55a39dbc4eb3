"""All of CLINC150 with the encoder fine-tuned on `train` (``settings.nlu_fine_tune`` at full data, issue 19).

    CLAWLINE_BENCH_FT_FULL=1 .venv/bin/python -m bench nlu_finetune

The protocol of the full-data rows of ``bench/nlu.py``: the encoder fine-tuned on ``train`` with ``oos_train`` as
its negatives (``clawline.nlu.fine_tuning.fine_tune_encoder``, what ``clawline train`` runs), exported to int8 ONNX;
then ``train_embedding_model`` with ``val`` + ``oos_val`` as its validation: the head (+ intents' names) on
``train``, the n-gram companion's weight, the temperature and the threshold chosen on ``val`` + ``oos_val`` by the
product's rules, head and companion refitted on ``train`` + ``val``. The encoder is not fine-tuned again on
``train`` + ``val`` (a second fine-tune of the same length): it has seen ``train`` only, so ``val`` is held out
from it too. Scored once on ``test`` + ``oos_test``. The stock encoder goes through the same code with the same
seed, as the reference. Nothing is chosen on ``test``. ``CLAWLINE_BENCH_FT_FULL_SEEDS=0,1`` measures more seeds
(default 0); rows already in ``build/nlu/bench/finetune-rows.jsonl`` are kept, not measured again.

Every model runs onnxruntime with one intra-op thread (the machine is shared; a Lambda function has about one vCPU
at the default memory), and the parse time is a paired A/B of the two models in one process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from bench.nlu_fewshot import _scores

#: torch threads of the fine-tune (``fine_tune_encoder``'s default is 2: both cores of this machine).
THREADS = int(os.environ.get("CLAWLINE_BENCH_FT_THREADS", "2"))
#: The stock int8 model that ``tools/nlu/build_minilm_onnx.py`` writes (``bench/nlu.py`` builds it).
STOCK_DIR = Path("build/nlu/minilm")
#: Seeds (of the fine-tune's batches and of the head): one fine-tune costs about 20 minutes on one thread.
SEEDS = tuple(int(s) for s in os.environ.get("CLAWLINE_BENCH_FT_FULL_SEEDS", "0").split(","))
#: Paired parse-time rounds (the two models alternate, first one then the other) and the messages of each round.
ROUNDS, PARSE_TEXTS = 11, 300


def fine_tuned(intents: dict[str, list[str]], oos: list[str], model_dir: Path, seed: int, threads: int = 2) -> Any:
    """The encoder fine-tuned on these examples in ``model_dir``: by an earlier run when its report is there (the
    worker is seeded, so the same examples give the same encoder), else now."""
    from clawline.nlu.fine_tuning import FineTuneReport, fine_tune_encoder

    saved = model_dir / "fine-tune.json"
    if saved.exists():
        return FineTuneReport(**json.loads(saved.read_text(encoding="utf-8")))
    report = fine_tune_encoder(intents, oos, model_dir, seed=seed, threads=threads)
    saved.write_text(json.dumps(dataclasses.asdict(report)), encoding="utf-8")
    return report


def single_threaded_encoder(model_dir: Path) -> Any:
    """The product's ``SentenceEncoder`` with its onnxruntime session rebuilt on one intra-op thread."""
    import onnxruntime as ort

    from clawline.nlu.embedding import SentenceEncoder

    encoder = SentenceEncoder(model_dir)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    encoder.session = ort.InferenceSession(
        str(model_dir / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
    )
    return encoder


@contextmanager
def calibration_spy() -> Iterator[list[tuple[Any, float, float]]]:
    """What ``train_embedding_model`` calibrates on: its held-out logits (the head fitted on ``train`` plus the
    weighted companion, on ``val`` + ``oos_val``), and the temperature and threshold it chose from them."""
    from clawline.nlu.training import calibrate

    seen: list[tuple[Any, float, float]] = []

    def recording(held: Any, oos_index: int) -> tuple[float, float]:
        temperature, threshold = calibrate(held, oos_index)
        seen.append((held, temperature, threshold))
        return temperature, threshold

    with mock.patch("clawline.nlu.embedding.calibrate", recording):
        yield seen


def _split(data: dict[str, Any], name: str) -> tuple[list[str], list[str]]:
    return [t for t, _ in data[name]], [label for _, label in data[name]]


def _rounded(scores: dict[str, float]) -> dict[str, float]:
    return {key: round(value, 2) for key, value in scores.items()}


def measure_model(data: dict[str, Any], model_dir: Path, seed: int) -> tuple[dict[str, Any], Any]:
    """Fit, calibrate on ``val``, refit and score on ``test`` with the encoder in ``model_dir``."""
    from clawline.nlu.embedding import train_embedding_model
    from clawline.nlu.optim import softmax
    from clawline.nlu.recipe import OOS_LABEL
    from clawline.nlu.training import IntentData

    intents: dict[str, list[str]] = {}
    for text, label in data["train"]:
        intents.setdefault(label, []).append(text)
    val_texts, val_labels = _split(data, "val")
    oos_val = _split(data, "oos_val")[0]
    validation = IntentData(val_texts, val_labels) + IntentData(oos_val, [OOS_LABEL] * len(oos_val))
    encoder = single_threaded_encoder(model_dir)
    started = time.perf_counter()
    with calibration_spy() as seen:
        model = train_embedding_model(
            intents, _split(data, "oos_train")[0], validation=validation, encoder=encoder, seed=seed
        )
    head_s = time.perf_counter() - started
    ((held, temperature, threshold),) = seen
    val_probs = softmax((held.logits / temperature).astype(np.float32))
    test_texts, test_labels = _split(data, "test")
    oos_test = _split(data, "oos_test")[0]
    texts = test_texts + oos_test
    probs = softmax((model.logits_for(texts, encoder.encode(texts)) / model.temperature).astype(np.float32))
    row = {
        "val": _rounded(_scores(val_probs, list(model.labels), threshold, val_labels, len(oos_val))),
        "test": _rounded(_scores(probs, list(model.labels), model.threshold, test_labels, len(oos_test))),
        "threshold": round(model.threshold, 4),
        "temperature": round(model.temperature, 4),
        "ngram_weight": model.companion.weight if model.companion else 0.0,
        "head_s": round(head_s, 1),
        "model_bytes": (model_dir / "model.onnx").stat().st_size,
    }
    return row, model


def parse_times(models: dict[str, Any], texts: list[str]) -> dict[str, dict[str, float]]:
    """Per-message ``NluEngine.parse`` time of each model, the models alternating (their order flipped every
    round) in ``ROUNDS`` rounds: the median over rounds of each round's median, and the median of the per-round
    ratio to the first model."""
    from clawline.nlu.backend import NluEngine
    from clawline.nlu.entities import EntitiesSpec, EntityExtractor

    engines = {name: NluEngine(model, EntityExtractor(EntitiesSpec(builtins=[]))) for name, model in models.items()}
    for engine in engines.values():
        for text in texts[:20]:
            engine.parse(text)
    medians: dict[str, list[float]] = {name: [] for name in engines}
    for r in range(ROUNDS):
        for name in list(engines)[:: 1 if r % 2 == 0 else -1]:
            samples = []
            for text in texts:
                start = time.perf_counter()
                engines[name].parse(text)
                samples.append((time.perf_counter() - start) * 1e3)
            medians[name].append(statistics.median(samples))
    first = next(iter(medians))
    return {
        name: {
            "p50_ms": round(statistics.median(values), 3),
            "ratio": round(statistics.median(v / f for v, f in zip(values, medians[first], strict=True)), 3),
        }
        for name, values in medians.items()
    }


def measure_row(data: dict[str, Any], encoder: str, seed: int, work: Path) -> dict[str, Any]:
    """The ``stock`` or ``fine-tuned`` encoder's row; the fine-tuned one with the paired parse time against the
    stock graph under the same head (only the encoder's weights differ)."""
    row: dict[str, Any] = {"data": "full", "encoder": encoder, "seed": seed}
    if encoder == "stock":
        measured, _ = measure_model(data, STOCK_DIR, seed)
        return row | measured | {"load": os.getloadavg()[0]}
    intents: dict[str, list[str]] = {}
    for text, label in data["train"]:
        intents.setdefault(label, []).append(text)
    model_dir = work / f"minilm-full-{seed}"
    report = fine_tuned(intents, _split(data, "oos_train")[0], model_dir, seed, THREADS)
    row |= {"fine_tune_s": report.fine_tune_s, "export_s": round(report.total_s - report.fine_tune_s, 1)}
    row |= {"steps": report.steps, "loss": report.loss, "threads": THREADS}
    measured, model = measure_model(data, model_dir, seed)
    texts = _split(data, "test")[0] + _split(data, "oos_test")[0]
    # Both sessions new and made one after the other: the encoder that trained the head is not the timed one.
    models = {name: dataclasses.replace(model, encoder=single_threaded_encoder(path))
              for name, path in (("stock", STOCK_DIR), ("fine-tuned", model_dir))}  # fmt: skip
    timed = parse_times(models, texts[:: len(texts) // PARSE_TEXTS][:PARSE_TEXTS])
    parse = {"p50_ms": timed["fine-tuned"]["p50_ms"], "stock_p50_ms": timed["stock"]["p50_ms"]}
    parse |= {"ratio": timed["fine-tuned"]["ratio"], "rounds": ROUNDS, "texts": PARSE_TEXTS}
    return row | measured | {"parse": parse, "load": os.getloadavg()[0]}


def measure_full(data: dict[str, Any], work: Path, done: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The stock and the fine-tuned rows of each seed not in ``done`` yet, each as soon as it is measured."""
    for seed in SEEDS:
        for encoder in ("stock", "fine-tuned"):
            if not any(r.get("data") == "full" and (r["encoder"], r["seed"]) == (encoder, seed) for r in done):
                row = measure_row(data, encoder, seed, work)
                print(json.dumps(row), flush=True)
                yield row


GOALS = {"in_scope": 95.0, "oos_recall": 75.0}


def _triple(scores: dict[str, float]) -> str:
    return f"{scores['n_way']:.2f} / {scores['in_scope']:.2f} / {scores['oos_recall']:.1f}"


def _verdict(scores: dict[str, float]) -> str:
    short = {key: goal - scores[key] for key, goal in GOALS.items() if scores[key] < goal}
    if not short:
        return "both goals met"
    names = {"in_scope": "in-scope", "oos_recall": "OOS recall"}
    return "; ".join(f"{names[key]} {gap:.2f} points short" for key, gap in short.items())


def full_table(rows: list[dict[str, Any]]) -> str:
    labels = {
        "stock": "stock all-MiniLM-L6-v2 (int8), head + n-gram companion",
        "fine-tuned": "the same, encoder fine-tuned on `train` (`nlu_fine_tune: true`)",
    }
    lines = [
        "### Full data: the encoder fine-tuned on all of `train` (`CLAWLINE_BENCH_FT_FULL=1 python -m bench "
        "nlu_finetune`)",
        "",
        "CLINC150 full, the protocol of the `nlu` section: MiniLM fine-tuned on `train` (15,000 examples) with "
        "`oos_train` (100) as negatives, as `clawline train` fine-tunes (`fine_tune_encoder`, the recipe above), "
        "exported to int8 ONNX; the head fitted on `train` (no intents' names: they are added below 50 examples "
        "per intent), the n-gram companion's weight, the temperature and the threshold chosen on `val` + "
        "`oos_val` by the product's rules; head and companion refitted on `train` + `val` (the encoder is not "
        "fine-tuned again: it has seen `train` only); scored once on `test` + `oos_test`. The stock encoder "
        "through the same code with the same seed (which also seeds the head). Onnxruntime on one thread. N-way / "
        "in-scope at the threshold / OOS recall, %; goals on `test`: >= 95 in-scope at the threshold and >= 75 OOS "
        "recall.",
        "",
        "| encoder | seed | `val` (calibration) | `test` | against the goals (`test`) | companion weight | threshold "
        "| fine-tune s (steps, torch threads) | parse p50 ms: this encoder against the stock one (ratio) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in sorted(rows, key=lambda r: (r["seed"], r["encoder"] != "stock")):
        tuned = (
            f"{row['fine_tune_s']:.0f} ({row['steps']}, {row['threads']}) + {row['export_s']:.0f} export"
            if "fine_tune_s" in row
            else "-"
        )
        parse = (
            f"{row['parse']['p50_ms']:.2f} against {row['parse']['stock_p50_ms']:.2f} ({row['parse']['ratio']:.2f})"
            if "parse" in row
            else "-"
        )
        lines.append(
            f"| {labels[row['encoder']]} | {row['seed']} | {_triple(row['val'])} | {_triple(row['test'])} "
            f"| {_verdict(row['test'])} | {row['ngram_weight']} | {row['threshold']:.3f} | {tuned} | {parse} |"
        )
    loads = [r["load"] for r in rows]
    timed = next((r["parse"] for r in rows if "parse" in r), None)
    heads = ", ".join(f"{r['encoder']} (seed {r['seed']}) {r['head_s']:.0f} s" for r in rows)
    lines += [
        "",
        f"Head (encode, fit, calibrate, refit): {heads}. "
        + (
            f"Parse: one `NluEngine.parse` per message, {timed['texts']} `test` + `oos_test` messages, the fine-tuned "
            "model and the same head on the stock encoder alternating over "
            f"{timed['rounds']} rounds in one process; median of the rounds' medians (ratio: median of the rounds' "
            "ratios). "
            if timed
            else ""
        )
        + f"2 cores shared with other jobs (1-minute load average {min(loads):.1f} to {max(loads):.1f} when the "
        "rows ended), the fine-tune niced: its time is an upper bound.",
    ]
    return "\n".join(lines)
