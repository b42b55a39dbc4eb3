"""Few-shot NLU with the encoder fine-tuned on the bot's examples (``settings.nlu_fine_tune``), on CLINC150.

    CLAWLINE_BENCH_FT_SHOTS=10 CLAWLINE_BENCH_SEEDS=5 .venv/bin/python -m bench nlu_finetune

The same draws as ``bench/nlu_fewshot.py`` (``k`` examples per intent + 20 out-of-scope, seeds 0-4), trained as
``clawline train`` trains such a bot: the encoder fine-tuned by ``tools/nlu/fine_tune_minilm.py`` in the
fine-tune venv (``make finetune``) and exported as int8 ONNX, then the softmax head with its k-fold calibration
on that encoder. Scored on the full ``test`` and ``oos_test`` through the exported int8 model in onnxruntime (what
the runtime runs). Rows are appended to ``build/nlu/bench/finetune-rows.jsonl`` and kept (a stopped run resumes);
the section ``nlu_finetune`` of BENCHMARKS.md is rewritten from them. Training runs one at a time (it already
uses both cores). ``CLAWLINE_BENCH_FT_FULL=1`` measures all of CLINC150 instead (``bench/nlu_finetune_full.py``);
``CLAWLINE_BENCH_FT_THREADS`` sets the fine-tune's torch threads (default 2). A part of the section without rows
here (another checkout measured it) is kept as published, with its date.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.nlu_fewshot import SEEDS, _scores, sample
from bench.nlu_finetune_full import THREADS, fine_tuned, full_table, measure_full
from bench.report import published, update_section

#: Fine-tuning costs minutes per draw: 10 examples per intent (the goal rows) unless asked.
SHOTS = tuple(int(k) for k in os.environ.get("CLAWLINE_BENCH_FT_SHOTS", "10").split(","))
ROWS = Path("build/nlu/bench/finetune-rows.jsonl")
#: The head's recipe the rows were measured with: 2 = the intents' names as examples and the n-gram companion
#: (what `clawline train` fits today); rows without it are the head alone, kept for the comparison.
RECIPE = 2
DATA = Path(os.environ.get("CLAWLINE_CLINC150", "../shared/data/clinc150/data_full.json"))
FULL = os.environ.get("CLAWLINE_BENCH_FT_FULL", "") == "1"
#: Where the full-data part of the section begins (``full_table``'s heading).
FULL_HEADING = "### Full data: the encoder fine-tuned"


def measure(data: dict[str, Any], k: int, seed: int, work: Path) -> dict[str, Any]:
    from clawline.nlu.embedding import SentenceEncoder, train_embedding_model
    from clawline.nlu.optim import softmax

    intents, oos = sample(data, k, seed)
    model_dir = work / f"minilm-{k}-{seed}"
    report = fine_tuned(intents, oos, model_dir, seed, THREADS)
    started = time.perf_counter()
    encoder = SentenceEncoder(model_dir)
    model = train_embedding_model(intents, oos, seed=seed, encoder=encoder)
    head_s = time.perf_counter() - started
    test = [t for t, _ in data["test"]] + [t for t, _ in data["oos_test"]]
    logits = model.logits_for(test, encoder.encode(test, batch_size=64))  # the head and its n-gram companion
    probs = softmax((logits / model.temperature).astype(np.float32))
    row: dict[str, Any] = {"backend": "embedding-fine-tuned", "k": k, "seed": seed, "threshold": model.threshold}
    row |= {"recipe": RECIPE, "ngram_weight": model.companion.weight if model.companion else 0.0}
    row |= _scores(probs, list(model.labels), model.threshold, [lab for _, lab in data["test"]], len(data["oos_test"]))
    row |= {
        "fine_tune_s": report.fine_tune_s,
        "export_s": round(report.total_s - report.fine_tune_s, 1),
        "head_s": round(head_s, 1),
        "model_bytes": report.bytes,
        "steps": report.steps,
        "load": os.getloadavg()[0],
    }
    return row


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "### Few-shot: the encoder fine-tuned on the bot's examples (`python -m bench nlu_finetune`)",
        "",
        "The draws of the few-shot table above (CLINC150, `k` examples per intent from `train` + 20 out-of-scope "
        "from `oos_train`, seed = draw), trained as `clawline train` trains a bot with `nlu_fine_tune: true`: "
        "MiniLM fine-tuned on those examples (`tools/nlu/fine_tune_minilm.py`, in the fine-tune venv, torch "
        "CPU, 2 threads), exported through `build_minilm_onnx.py` to int8 ONNX, then the softmax head and its "
        "k-fold calibration on the fine-tuned encoder. Scored on the full `test` and `oos_test` through the "
        "exported int8 model in onnxruntime, as the runtime parses. Mean ± standard deviation over the seeds.",
        "",
        "| backend | k | seeds | N-way acc % | in-scope acc at threshold % | OOS recall % "
        "| fine-tune s: median (min-max) | export s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    labels = {
        RECIPE: "embedding, encoder fine-tuned on the bot's examples (head + intents' names + n-gram companion)",
        1: "the same encoder, head alone (the recipe before the names and the companion)",
    }
    for recipe, k in sorted({(r.get("recipe", 1), r["k"]) for r in rows}, key=lambda g: (-g[0], g[1])):
        group = [r for r in rows if r["k"] == k and r.get("recipe", 1) == recipe]

        def stat(key: str, rows: list[dict[str, Any]] = group) -> str:
            values = [float(r[key]) for r in rows]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            return f"{statistics.mean(values):.1f} ± {sd:.1f}"

        times = [r["fine_tune_s"] for r in group]
        fine = f"{statistics.median(times):.0f} ({min(times):.0f}-{max(times):.0f})"
        export = statistics.median(r["export_s"] for r in group)
        lines.append(
            f"| {labels[recipe]} | {k} | {len(group)} | {stat('n_way')} | "
            f"{stat('in_scope')} | {stat('oos_recall')} | {fine} | {export:.0f} |"
        )
    ordered = sorted(rows, key=lambda r: (-r.get("recipe", 1), r["k"], r["seed"]))
    per_seed = ", ".join(
        f"k {r['k']} seed {r['seed']}{'' if r.get('recipe', 1) == RECIPE else ' (head alone)'}: {r['n_way']:.1f}"
        for r in ordered
    )
    sizes = {round(r["model_bytes"] / 1e6, 1) for r in rows}
    lines += [
        "",
        f"N-way per draw: {per_seed}. The bot's own model: {', '.join(f'{s} MB' for s in sorted(sizes))} (int8 "
        "ONNX, in the bot's layer). Fine-tune and export times on 2 cores shared with other jobs (1-minute load "
        f"average {min(r['load'] for r in rows):.1f} to {max(r['load'] for r in rows):.1f} when the rows ended): "
        "the shortest is the quietest machine's.",
    ]
    return "\n".join(lines)


def _published(full: bool) -> str:
    """The few-shot (or the full-data) part of the section as published, marked with the date it was measured."""
    section = published("nlu_finetune")
    if section is None:
        return ""
    when, body = section
    few, heading, rest = body.partition(FULL_HEADING)
    part = (heading + rest if full else few).strip()
    if not part or "\n_Not re-run with" in part:  # empty, or already marked by an earlier run
        return part
    title, _, content = part.partition("\n\n")
    return f"{title}\n\n_Not re-run with the other part of this section: measured {when}._\n\n{content}"


def _append(row: dict[str, Any]) -> None:
    with ROWS.open("a") as fh:
        fh.write(json.dumps(row) + "\n")


def main() -> None:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    done = [json.loads(line) for line in ROWS.read_text().splitlines()] if ROWS.exists() else []
    ROWS.parent.mkdir(parents=True, exist_ok=True)
    if FULL:
        for row in measure_full(data, ROWS.parent, done):
            _append(row)
            done.append(row)
    else:
        for k in SHOTS:
            for seed in SEEDS:
                if any(r.get("k") == k and r["seed"] == seed and r.get("recipe") == RECIPE for r in done):
                    continue
                row = measure(data, k, seed, ROWS.parent)
                print(json.dumps(row), flush=True)
                _append(row)
                done.append(row)
    few = [r for r in done if r.get("data") != "full"]
    full = [r for r in done if r.get("data") == "full"]
    parts = [_table(few) if few else _published(full=False), full_table(full) if full else _published(full=True)]
    update_section("nlu_finetune", "\n\n".join(part for part in parts if part))


if __name__ == "__main__":
    main()
