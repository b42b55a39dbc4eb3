"""The default model's two run times: numpy (``linear.LinearModel``) and numpy-free (``linear_runtime``).

For the default bot's artifact and a CLINC150 full-data model (150 intents + out-of-scope; ``bench nlu``'s
``build/nlu/bench/clinc150-linear-oos.npz`` when it is there, else trained here with the same recipe), in one run:
- warm parse: wall time of one ``NluEngine.parse`` per message (built-in entities off), 3 passes per run time
  alternating numpy / numpy-free, each run time's pass with the lowest median kept; p50 / p90 / p99 of that pass;
- the answers: share of messages with the same intent and out-of-scope decision, largest confidence difference;
- cold: fresh ``python -c`` processes (median of 5), CPU and wall time of importing what the path needs, loading
  the artifact and the first parse; the numpy-free process is checked not to import numpy;
- the numpy-free warm parse again on python3.13 (Lambda's runtime) when it is installed (no numpy there: the
  numpy path cannot run on it outside the layer build).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from bench.report import update_section

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CLAWLINE_CLINC150", ROOT.parent / "shared/data/clinc150/data_full.json"))
OUT = ROOT / "build/nlu/bench"
DEFAULT_BOT = ROOT / "bots/default"
REPORT = ROOT / "reports/bench-nlu-runtime.json"

COLD = """
import json, sys, time
from pathlib import Path
from clawline.nlu.parsing import NluEngine  # common to both paths (pydantic, the entity extractor): not counted
c0, w0 = time.process_time(), time.perf_counter()
{imports}
c1, w1 = time.process_time(), time.perf_counter()
engine = NluEngine({model_class}.load(Path({path!r})))
c2, w2 = time.process_time(), time.perf_counter()
engine.parse("what is my balance")
c3, w3 = time.process_time(), time.perf_counter()
engine.parse("can you tell me the weather tomorrow")
c4, w4 = time.process_time(), time.perf_counter()
print(json.dumps({{"import_cpu_ms": (c1-c0)*1e3, "load_cpu_ms": (c2-c1)*1e3, "first_parse_cpu_ms": (c3-c2)*1e3,
    "total_cpu_ms": (c3-c0)*1e3, "total_wall_ms": (w3-w0)*1e3, "second_parse_ms": (w4-w3)*1e3,
    "numpy": "numpy" in sys.modules}}))
"""
NUMPY_IMPORTS = ("import numpy\nfrom clawline.nlu.linear import LinearModel", "LinearModel")
PURE_IMPORTS = ("from clawline.nlu.linear_runtime import RuntimeLinearModel", "RuntimeLinearModel")

PY313_WARM = """
import json, sys, time
from pathlib import Path
from clawline.nlu.linear_runtime import RuntimeLinearModel
model = RuntimeLinearModel.load(Path(sys.argv[1]))
texts = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
best = None
for _ in range(3):
    samples = []
    for text in texts:
        start = time.perf_counter(); model.probabilities(text); samples.append((time.perf_counter() - start) * 1e3)
    samples.sort()
    pick = lambda p: samples[min(len(samples) - 1, int(p * len(samples)))]
    run = {"p50": pick(.5), "p90": pick(.9), "p99": pick(.99)}
    if best is None or run["p50"] < best["p50"]:
        best = run
print(json.dumps(best))
"""


def _percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.array(samples)
    return {f"p{q}_ms": round(float(np.percentile(arr, q)), 4) for q in (50, 90, 99)}


def _warm(engines: dict[str, object], texts: list[str], passes: int = 3) -> dict[str, dict[str, float]]:
    best: dict[str, dict[str, float]] = {}
    for _ in range(passes):
        for name, engine in engines.items():
            samples = []
            parse = engine.parse  # type: ignore[attr-defined]
            for text in texts:
                start = time.perf_counter()
                parse(text)
                samples.append((time.perf_counter() - start) * 1e3)
            run = _percentiles(samples)
            if name not in best or run["p50_ms"] < best[name]["p50_ms"]:
                best[name] = run
    return best


def _cold(path: Path, imports: tuple[str, str], repeats: int = 5) -> dict[str, float | bool]:
    code = COLD.format(imports=imports[0], model_class=imports[1], path=str(path))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/engine"), str(ROOT)])}
    env["OPENBLAS_NUM_THREADS"] = "1"  # as the function sets it before numpy loads (clawline.nlu.lazy)
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    medians: dict[str, float | bool] = {
        k: round(statistics.median(r[k] for r in runs), 1) for k in runs[0] if k != "numpy"
    }
    medians["numpy"] = any(r["numpy"] for r in runs)
    return medians


def _py313_warm(path: Path, texts: list[str]) -> dict[str, float] | None:
    try:
        from tests.package.tools import require_python313

        python = require_python313()
    except Exception:  # noqa: BLE001 - skipped when the interpreter is not installed
        return None
    texts_file = OUT / "runtime-texts.json"
    texts_file.write_text(json.dumps(texts), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "layers/engine")}
    out = subprocess.run(
        [str(python), "-S", "-c", PY313_WARM, str(path), str(texts_file)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    got: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return {f"{k}_ms": round(v, 4) for k, v in got.items()}


def _clinc_model(data: dict) -> Path:
    path = OUT / "clinc150-linear-oos.npz"
    if path.exists():
        return path
    from clawline.nlu.backend import train_artifact
    from clawline.nlu.recipe import OOS_LABEL
    from clawline.nlu.training import IntentData

    intents: dict[str, list[str]] = {}
    for text, label in data["train"]:
        intents.setdefault(label, []).append(text)
    validation = IntentData([t for t, _ in data["val"]], [lab for _, lab in data["val"]]) + IntentData(
        [t for t, _ in data["oos_val"]], [OOS_LABEL] * len(data["oos_val"])
    )
    model = train_artifact(intents, oos_examples=[t for t, _ in data["oos_train"]], validation=validation, seed=0)
    model.save(path)
    return path


def measure(name: str, path: Path, texts: list[str]) -> dict[str, object]:
    from clawline.nlu.entities import EntitiesSpec, EntityExtractor
    from clawline.nlu.linear import LinearModel
    from clawline.nlu.linear_runtime import RuntimeLinearModel
    from clawline.nlu.parsing import NluEngine

    extractor = EntityExtractor(EntitiesSpec(builtins=[]))
    engines = {
        "numpy": NluEngine(LinearModel.load(path), extractor),
        "numpy-free": NluEngine(RuntimeLinearModel.load(path), extractor),
    }
    same, worst = 0, 0.0
    for text in texts:  # also the warm-up pass of both
        a, b = engines["numpy"].parse(text), engines["numpy-free"].parse(text)
        same += (a.intent, a.out_of_scope) == (b.intent, b.out_of_scope)
        worst = max(worst, abs(a.confidence - b.confidence))
    return {
        "model": name,
        "classes": len(engines["numpy"].model.labels),
        "messages": len(texts),
        "same_decision_pct": round(100 * same / len(texts), 3),
        "max_confidence_diff": worst,
        "warm": _warm(engines, texts),
        "warm_py313_numpy_free": _py313_warm(path, texts),
        "cold": {"numpy": _cold(path, NUMPY_IMPORTS), "numpy-free": _cold(path, PURE_IMPORTS)},
        "artifact_mb": round(path.stat().st_size / 1e6, 2),
    }


def render(report: dict) -> str:
    md = [
        "The default model's run time with numpy (`clawline.nlu.linear.LinearModel`, what a turn used before) and "
        "without (`clawline.nlu.linear_runtime.RuntimeLinearModel`, what a turn uses when the bot's trained artifact "
        "matches its examples), on the same artifact, in one run (`python -m bench nlu_runtime`).",
        "",
        "| model | run time | warm parse p50 / p90 / p99 ms | p50 vs numpy | cold: the path's imports + load + first "
        "parse, CPU ms (import / load / parse) | numpy imported |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        base = r["warm"]["numpy"]["p50_ms"]
        for runtime in ("numpy", "numpy-free"):
            w, c = r["warm"][runtime], r["cold"][runtime]
            md.append(
                f"| {r['model']} ({r['classes']} classes) | {runtime} | {w['p50_ms']:.3f} / {w['p90_ms']:.3f} / "
                f"{w['p99_ms']:.3f} | {w['p50_ms'] / base:.2f}x | {c['total_cpu_ms']:.0f} ({c['import_cpu_ms']:.0f} / "
                f"{c['load_cpu_ms']:.0f} / {c['first_parse_cpu_ms']:.0f}) | {'yes' if c['numpy'] else 'no'} |"
            )
        py313 = r.get("warm_py313_numpy_free")
        if py313:
            md.append(
                f"| {r['model']} ({r['classes']} classes) | numpy-free, python3.13 | {py313['p50_ms']:.3f} / "
                f"{py313['p90_ms']:.3f} / {py313['p99_ms']:.3f} (model only) | - | - | no |"
            )
    md += [
        "",
        "Same answers: "
        + "; ".join(
            f"{r['model']}: {r['same_decision_pct']:.2f}% of {r['messages']} messages with the same intent and "
            f"out-of-scope decision, confidences within {r['max_confidence_diff']:.1e}"
            for r in report["rows"]
        )
        + ".",
        "",
        "How it was measured:",
        "- Messages: CLINC150 `test` + `oos_test` (5,500) for the CLINC150 model; the default bot's examples and the "
        "first 1,000 CLINC150 test messages for the default bot. The CLINC150 model is trained on `train`, calibrated "
        "on `val`, 150 intents + the out-of-scope class (as in the `nlu` section).",
        "- Warm parse: wall time of one `NluEngine.parse` (built-in entities off) per message, in the benchmark "
        "process (python " + report["python"] + "), after a pass over every message with both run times (the "
        "caches of words, tokens and rows warm); 3 passes per run time, alternating, the pass with the lowest "
        "median kept (p90 and p99 from that pass). The python3.13 row times `RuntimeLinearModel.probabilities` "
        "alone (no ranking or entities) in a `python3.13 -S` process, same messages, same rule.",
        "- Cold: median of 5 fresh `python -c` processes (`OPENBLAS_NUM_THREADS=1`, as the function sets it), "
        "after the imports both paths share (`clawline.nlu.parsing`: pydantic, the entity extractor): CPU time of "
        "the imports the path needs (numpy + `clawline.nlu.linear`, or `clawline.nlu.linear_runtime`), "
        "loading the artifact (memory-mapped) and the first parse (the numpy-free one builds the static weight "
        "block's integers and each new word's and token's sums on first use).",
        f"- Machine: {os.cpu_count()} cores shared with other jobs, 1-minute load average {report['load'][0]:.1f} "
        f"at the start and {report['load'][1]:.1f} at the end: timings are upper bounds.",
    ]
    return "\n".join(md)


def main() -> None:
    if os.environ.get("CLAWLINE_BENCH_NLU_RUNTIME") == "render" and REPORT.exists():
        update_section("nlu_runtime", render(json.loads(REPORT.read_text(encoding="utf-8"))))
        return
    data = json.loads(DATA.read_text(encoding="utf-8"))
    OUT.mkdir(parents=True, exist_ok=True)
    REPORT.parent.mkdir(exist_ok=True)
    load_before = os.getloadavg()[0]
    clinc_texts = [t for t, _ in data["test"]] + [t for t, _ in data["oos_test"]]
    sys.path.insert(0, str(ROOT / "layers/engine"))
    from clawline.bot.loader import load_definition
    from clawline.engine import nlu_inputs

    definition, _ = load_definition(DEFAULT_BOT)
    bot_texts = [e for ex in nlu_inputs(definition)["intents"].values() for e in ex] + clinc_texts[:1000]
    rows = [measure("default bot", DEFAULT_BOT / "model/nlu.npz", bot_texts)]
    print(json.dumps(rows[-1]), flush=True)
    rows.append(measure("CLINC150 full", _clinc_model(data), clinc_texts))
    print(json.dumps(rows[-1]), flush=True)
    report = {"rows": rows, "load": [load_before, os.getloadavg()[0]], "python": sys.version.split()[0]}
    REPORT.write_text(json.dumps(report, indent=2), encoding="utf-8")
    update_section("nlu_runtime", render(report))


if __name__ == "__main__":
    main()
