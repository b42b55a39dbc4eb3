"""NLU benchmark on CLINC150 (full): each backend and a TF-IDF + logistic-regression baseline.

Trains on ``train`` (+ ``oos_train`` as an out-of-scope class where stated), calibrates and picks the
threshold on ``val`` + ``oos_val``, refits on train + val, and reports on ``test`` + ``oos_test`` only.
Run: ``python -m bench nlu`` (part of ``make bench``). Results go to the ``nlu`` section of BENCHMARKS.md,
details to ``reports/bench-nlu.json``; the few-shot part (``bench/nlu_fewshot.py``) to
``reports/bench-nlu-fewshot.json``.
"""

from __future__ import annotations

import os

# Many small matrix products: OpenBLAS threads only add contention (set before numpy is imported).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from bench.report import update_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CLAWLINE_CLINC150", ROOT.parent / "shared/data/clinc150/data_full.json"))
OUT = ROOT / "build/nlu/bench"
MODEL_DIR = ROOT / "build/nlu/minilm"
NLU_SRC = ROOT / "layers/engine/clawline/nlu"
STATIC_TABLE = NLU_SRC / "data/minilm-static.npz"


def _fresh_process(code: str, repeats: int = 5) -> dict[str, float]:
    """Run ``code`` (which prints a JSON dict of timings) in new interpreters; median of each timing."""
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {k: round(statistics.median(r[k] for r in runs), 2) for k in runs[0]}


LINEAR_LOAD = """
import json, time, sys
t0 = time.perf_counter(); import numpy; t1 = time.perf_counter()
from clawline.nlu.backend import NluEngine; from clawline.nlu.linear import LinearModel; t2 = time.perf_counter()
from pathlib import Path; m = LinearModel.load(Path({path!r})); e = NluEngine(m); t3 = time.perf_counter()
e.parse("what is my balance"); t4 = time.perf_counter()
assert "sklearn" not in sys.modules and "onnxruntime" not in sys.modules
print(json.dumps({{"import_numpy_ms": (t1-t0)*1e3, "import_nlu_ms": (t2-t1)*1e3, "load_ms": (t3-t2)*1e3,
                  "first_parse_ms": (t4-t3)*1e3}}))
"""

#: The numpy-free run time a deployed bot uses for its trained artifact (``clawline.nlu.linear_runtime``).
LINEAR_RUNTIME_LOAD = """
import json, time, sys
t0 = time.perf_counter(); t1 = t0
from clawline.nlu.parsing import NluEngine; from clawline.nlu.linear_runtime import RuntimeLinearModel
t2 = time.perf_counter()
from pathlib import Path; m = RuntimeLinearModel.load(Path({path!r})); e = NluEngine(m); t3 = time.perf_counter()
e.parse("what is my balance"); t4 = time.perf_counter()
assert "numpy" not in sys.modules
print(json.dumps({{"import_numpy_ms": (t1-t0)*1e3, "import_nlu_ms": (t2-t1)*1e3, "load_ms": (t3-t2)*1e3,
                  "first_parse_ms": (t4-t3)*1e3}}))
"""

EMBEDDING_LOAD = """
import json, time
t0 = time.perf_counter(); import numpy, onnxruntime; t1 = time.perf_counter()
from clawline.nlu.backend import NluEngine; from clawline.nlu.embedding import EmbeddingModel; t2 = time.perf_counter()
from pathlib import Path; m = EmbeddingModel.load(Path({path!r}), Path({model_dir!r})); e = NluEngine(m)
t3 = time.perf_counter(); e.parse("what is my balance"); t4 = time.perf_counter()
print(json.dumps({{"import_numpy_ms": (t1-t0)*1e3, "import_nlu_ms": (t2-t1)*1e3, "load_ms": (t3-t2)*1e3,
                  "first_parse_ms": (t4-t3)*1e3}}))
"""

BASELINE_IMPORT = """
import json, time
t0 = time.perf_counter(); import sklearn.linear_model, sklearn.feature_extraction.text; t1 = time.perf_counter()
print(json.dumps({"import_ms": (t1-t0)*1e3}))
"""


def _latency(fn, texts: list[str], passes: int = 3) -> dict[str, float]:
    """Per-call wall time over ``texts``; of ``passes`` passes, the one with the lowest median is kept, so that
    other jobs on a shared machine inflate the figure less (p99 comes from the same pass)."""
    best: dict[str, float] | None = None
    for _ in range(passes):
        samples = []
        for text in texts:
            start = time.perf_counter()
            fn(text)
            samples.append((time.perf_counter() - start) * 1e3)
        arr = np.array(samples)
        run = {f"p{q}_ms": round(float(np.percentile(arr, q)), 4) for q in (50, 90, 99)}
        if best is None or run["p50_ms"] < best["p50_ms"]:
            best = run
    assert best is not None
    return best


def _scores(predict, test_texts, test_labels, oos_texts) -> dict[str, float]:
    """predict(text) -> (top in-scope intent, accepted?)."""
    top_ok, accepted_ok = [], []
    for text, label in zip(test_texts, test_labels, strict=True):
        top, accepted = predict(text)
        top_ok.append(top == label)
        accepted_ok.append(accepted and top == label)
    rejected = [not predict(text)[1] for text in oos_texts]
    return {
        "n_way_accuracy": round(100 * float(np.mean(top_ok)), 2),
        "in_scope_accuracy_at_threshold": round(100 * float(np.mean(accepted_ok)), 2),
        "oos_recall": round(100 * float(np.mean(rejected)), 2),
    }


def _engine_predict(engine):
    def predict(text: str) -> tuple[str | None, bool]:
        result = engine.parse(text)
        return (result.ranking[0].intent if result.ranking else None), result.intent is not None

    return predict


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*.py"))


def bench_linear(data: dict, *, oos_class: bool) -> dict:
    from clawline.nlu.backend import NluEngine, train_artifact
    from clawline.nlu.entities import EntitiesSpec, EntityExtractor
    from clawline.nlu.linear_runtime import RuntimeLinearModel
    from clawline.nlu.recipe import OOS_LABEL
    from clawline.nlu.training import IntentData

    intents: dict[str, list[str]] = {}
    for text, label in data["train"]:
        intents.setdefault(label, []).append(text)
    oos = [t for t, _ in data["oos_train"]] if oos_class else []
    validation = IntentData([t for t, _ in data["val"]], [lab for _, lab in data["val"]]) + IntentData(
        [t for t, _ in data["oos_val"]], [OOS_LABEL] * len(data["oos_val"])
    )
    started = time.perf_counter()
    model = train_artifact(intents, oos_examples=oos, validation=validation, seed=0)
    train_s = time.perf_counter() - started
    path = OUT / f"clinc150-linear{'-oos' if oos_class else ''}.npz"
    model.save(path)
    engine = NluEngine(model, EntityExtractor(EntitiesSpec(builtins=[])))
    full = NluEngine(model, EntityExtractor(EntitiesSpec()))
    test_texts, test_labels = [t for t, _ in data["test"]], [lab for _, lab in data["test"]]
    oos_texts = [t for t, _ in data["oos_test"]]
    pure = NluEngine(RuntimeLinearModel.load(path), EntityExtractor(EntitiesSpec(builtins=[])))
    numpy_free = {
        "backend": "linear (default) + oos class, numpy-free run time (a deployed bot's artifact)",
        **_scores(_engine_predict(pure), test_texts, test_labels, oos_texts),
        **_latency(pure.parse, test_texts + oos_texts),
        "fresh_process": _fresh_process(LINEAR_RUNTIME_LOAD.format(path=str(path))),
    }
    return {
        "backend": "linear (default)" + (" + oos class" if oos_class else ", threshold only"),
        **_scores(_engine_predict(engine), test_texts, test_labels, oos_texts),
        **_latency(engine.parse, test_texts + oos_texts),
        "parse_with_builtin_entities": _latency(full.parse, test_texts + oos_texts),
        "threshold": round(model.threshold, 4),
        "artifact_mb": round(path.stat().st_size / 1e6, 2),
        "train_s": round(train_s, 1),
        "fresh_process": _fresh_process(LINEAR_LOAD.format(path=str(path))),
        "n_features": model.vocab.size,
        **({"numpy_free": numpy_free} if oos_class else {}),
    }


def bench_embedding(data: dict) -> dict | None:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    if not (MODEL_DIR / "model.onnx").exists():
        subprocess.run(
            [sys.executable, str(ROOT / "tools/nlu/build_minilm_onnx.py"), "--out", str(MODEL_DIR)], check=True
        )
    from clawline.nlu.backend import NluEngine
    from clawline.nlu.embedding import SentenceEncoder, train_embedding_model
    from clawline.nlu.entities import EntitiesSpec, EntityExtractor
    from clawline.nlu.recipe import OOS_LABEL
    from clawline.nlu.training import IntentData

    intents: dict[str, list[str]] = {}
    for text, label in data["train"]:
        intents.setdefault(label, []).append(text)
    validation = IntentData([t for t, _ in data["val"]], [lab for _, lab in data["val"]]) + IntentData(
        [t for t, _ in data["oos_val"]], [OOS_LABEL] * len(data["oos_val"])
    )
    encoder = SentenceEncoder(MODEL_DIR)
    started = time.perf_counter()
    model = train_embedding_model(
        intents, [t for t, _ in data["oos_train"]], validation=validation, encoder=encoder, seed=0
    )
    train_s = time.perf_counter() - started
    path = OUT / "clinc150-embedding.npz"
    model.save(path)
    engine = NluEngine(model, EntityExtractor(EntitiesSpec(builtins=[])))
    test_texts, test_labels = [t for t, _ in data["test"]], [lab for _, lab in data["test"]]
    oos_texts = [t for t, _ in data["oos_test"]]
    return {
        "backend": "embedding (all-MiniLM-L6-v2 int8 ONNX) + oos class",
        **_scores(_engine_predict(engine), test_texts, test_labels, oos_texts),
        **_latency(engine.parse, test_texts + oos_texts, passes=1),
        "threshold": round(model.threshold, 4),
        "artifact_mb": round((path.stat().st_size + (MODEL_DIR / "model.onnx").stat().st_size) / 1e6, 2),
        "train_s": round(train_s, 1),
        "fresh_process": _fresh_process(EMBEDDING_LOAD.format(path=str(path), model_dir=str(MODEL_DIR)), repeats=3),
    }


def bench_baseline(data: dict) -> dict | None:
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, make_pipeline
    except ImportError:
        return None
    from clawline.nlu.threshold import choose_threshold

    train_texts, train_labels = [t for t, _ in data["train"]], [lab for _, lab in data["train"]]
    started = time.perf_counter()
    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)),
        ]
    )
    pipe = make_pipeline(features, LogisticRegression(C=10.0, max_iter=300))
    pipe.fit(train_texts, train_labels)
    train_s = time.perf_counter() - started
    classes = list(pipe.classes_)
    val_p = pipe.predict_proba([t for t, _ in data["val"]])
    val_truth = np.array([classes.index(lab) for _, lab in data["val"]])
    oos_p = pipe.predict_proba([t for t, _ in data["oos_val"]])
    threshold = choose_threshold(
        val_p.max(1).astype(np.float32), val_p.argmax(1) == val_truth, oos_p.max(1).astype(np.float32)
    )

    def predict(text: str) -> tuple[str, bool]:
        p = pipe.predict_proba([text])[0]
        best = int(p.argmax())
        return classes[best], bool(p[best] >= threshold)

    test_texts, test_labels = [t for t, _ in data["test"]], [lab for _, lab in data["test"]]
    oos_texts = [t for t, _ in data["oos_test"]]
    import pickle

    size = len(pickle.dumps(pipe)) / 1e6
    return {
        "backend": "baseline: TF-IDF word+char + LogisticRegression (scikit-learn), threshold only",
        **_scores(predict, test_texts, test_labels, oos_texts),
        **_latency(lambda t: pipe.predict_proba([t]), test_texts[:1000] + oos_texts[:200], passes=1),
        "threshold": round(threshold, 4),
        "artifact_mb": round(size, 2),
        "train_s": round(train_s, 1),
        "fresh_process": {"import_sklearn_ms": _fresh_process(BASELINE_IMPORT, repeats=3)["import_ms"]},
    }


def _row(r: dict) -> str:
    fp = r["fresh_process"]
    load = f"{fp['load_ms']:.1f} (+{fp['first_parse_ms']:.1f} first parse)" if "load_ms" in fp else "n/a"
    imports = (
        f"{fp['import_numpy_ms']:.0f} + {fp['import_nlu_ms']:.0f}"
        if "import_nlu_ms" in fp
        else f"{fp['import_sklearn_ms']:.0f}"
    )
    return (
        f"| {r['backend']} | {r['n_way_accuracy']:.2f} | {r['in_scope_accuracy_at_threshold']:.2f} | "
        f"{r['oos_recall']:.2f} | {r['p50_ms']:.3f} / {r['p99_ms']:.3f} | {r['artifact_mb']:.2f} | "
        f"{r['train_s']:.1f} | {imports} | {load} |"
    )


def _rows_of(r: dict) -> list[str]:
    """A backend's row, and for the default one the numpy-free run time's row (same artifact, same accuracy)."""
    out = [_row(r)]
    if "numpy_free" in r:
        out.append(_row({**r, **r["numpy_free"]}))
    return out


def _ratios(rows: list[dict]) -> list[str]:
    """Each backend's median parse time against the scikit-learn baseline measured in the same run."""
    baseline = next((r for r in rows if r["backend"].startswith("baseline")), None)
    if baseline is None:
        return []
    parts = [
        f"{r['backend']} {baseline['p50_ms'] / r['p50_ms']:.1f}x faster"
        if r["p50_ms"] <= baseline["p50_ms"]
        else f"{r['backend']} {r['p50_ms'] / baseline['p50_ms']:.1f}x slower"
        for r in rows
        if r is not baseline
    ]
    return [f"Median per-query time against the baseline in this run: {'; '.join(parts)}.", ""]


FULL_REPORT = ROOT / "reports/bench-nlu.json"
FEWSHOT_REPORT = ROOT / "reports/bench-nlu-fewshot.json"


def main() -> None:
    """``CLAWLINE_BENCH_NLU=full`` or ``=fewshot`` runs one part; the other part's last results (from
    ``reports/``) are kept in the section. ``=render`` measures nothing and rewrites the section from ``reports/``."""
    parts = os.environ.get("CLAWLINE_BENCH_NLU", "full,fewshot").split(",")
    data = json.loads(DATA.read_text(encoding="utf-8"))
    OUT.mkdir(parents=True, exist_ok=True)
    (ROOT / "reports").mkdir(exist_ok=True)
    if "full" in parts:
        load_before = os.getloadavg()[0]
        rows = []
        for name, fn in (
            ("linear+oos", lambda: bench_linear(data, oos_class=True)),
            ("linear", lambda: bench_linear(data, oos_class=False)),
            ("embedding", lambda: bench_embedding(data)),
            ("baseline", lambda: bench_baseline(data)),
        ):
            print(f"-- {name}", flush=True)
            row = fn()
            if row is not None:
                print(json.dumps(row), flush=True)
                rows.append(row)
        full = {"rows": rows, "load": [load_before, os.getloadavg()[0]]}
        FULL_REPORT.write_text(json.dumps(full, indent=2), encoding="utf-8")
    if "fewshot" in parts:
        from bench import nlu_fewshot

        if not (MODEL_DIR / "model.onnx").exists():
            subprocess.run(
                [sys.executable, str(ROOT / "tools/nlu/build_minilm_onnx.py"), "--out", str(MODEL_DIR)], check=True
            )
        load_before = os.getloadavg()[0]
        jobs = int(os.environ.get("CLAWLINE_BENCH_JOBS", "2"))
        few = nlu_fewshot.run(data, MODEL_DIR, OUT, jobs) | {"load": [load_before, os.getloadavg()[0]]}
        FEWSHOT_REPORT.write_text(json.dumps(few, indent=2), encoding="utf-8")
    md = []
    if FULL_REPORT.exists():
        full = json.loads(FULL_REPORT.read_text(encoding="utf-8"))
        if isinstance(full, dict):
            md.append(render(full["rows"], *full["load"]))
    else:
        # A few-shot-only run in a fresh checkout (no reports/ yet) keeps the full-data rows already published.
        md.append(_published_full_part())
    if FEWSHOT_REPORT.exists():
        from bench import nlu_fewshot

        few = json.loads(FEWSHOT_REPORT.read_text(encoding="utf-8"))
        md += ["", *nlu_fewshot.render(few, tuple(few["load"]))]
    update_section("nlu", "\n".join(md))


def _published_full_part() -> str:
    """The full-data part of the ``nlu`` section of BENCHMARKS.md as published, with the date it was measured."""
    from bench.report import published

    section = published("nlu")
    if section is None:
        return ""
    when, whole = section
    body = whole.split("### Few-shot", 1)[0]
    if body.startswith("Full data (measured"):  # kept by an earlier few-shot-only run: keep its date
        return body.strip()
    return f"Full data (measured {when}; not re-run with the few-shot part):\n\n{body.strip()}"


def render(rows: list[dict], load_before: float, load_after: float) -> str:
    nlu_kb = _dir_bytes(NLU_SRC) / 1e3
    default = rows[0]
    md = [
        "CLINC150 full (Larson et al., 2019): 150 intents, 15,000 train / 3,000 val / 4,500 test in-scope, "
        "100 / 100 / 1,000 out-of-scope. Train on `train`, calibrate the temperature and pick the out-of-scope "
        "threshold on `val` + `oos_val` (rule: best balanced accuracy, the out-of-scope recall interpolated between "
        "held-out confidences, rejecting at most 1% of correctly answered in-scope messages), refit on train + val, "
        "report on `test` + `oos_test`. Seed 0.",
        "",
        "| backend | 150-way acc % | in-scope acc at threshold % | OOS recall % | p50 / p99 ms per query | "
        "model MB | train s | import ms (numpy + nlu) | load ms (fresh process) |",
        "|---|---|---|---|---|---|---|---|---|",
        *(line for r in rows for line in _rows_of(r)),
        "",
        *_ratios(rows),
        "How it was measured:",
        "- Accuracy: 150-way = top in-scope intent, no threshold; at threshold = rejected in-scope messages count "
        "as wrong; OOS recall = share of `oos_test` rejected (by the threshold or the out-of-scope class).",
        "- Latency: wall time of one `NluEngine.parse` call per test message (classification only, built-in "
        "entities off), single-threaded, in the benchmark process after warm-up by the accuracy pass; for the "
        "linear backend the best of 3 passes by median (embedding and baseline: 1 pass); the baseline times "
        "`predict_proba([text])` on 1,200 messages. With all built-in entity extractors on, the default "
        f"backend's parse is p50 {default['parse_with_builtin_entities']['p50_ms']:.3f} / "
        f"p99 {default['parse_with_builtin_entities']['p99_ms']:.3f} ms. The numpy-free row is the same artifact "
        "scored by `clawline.nlu.linear_runtime` (what a deployed bot uses when its artifact matches its examples; "
        "its fresh process imports no numpy); `python -m bench nlu_runtime` compares the two run times in one run "
        "with p90.",
        "- Import and load: median of 5 (embedding: 3) fresh `python -c` processes: `import numpy`, importing "
        "the NLU modules, then loading the artifact and building the engine (`load ms`; the linear artifact is "
        "memory-mapped, and its first parse builds the n-gram lookup table). The default backend's "
        "process is checked to import neither scikit-learn nor onnxruntime.",
        "- Model size: the artifact file (embedding: head + `model.onnx`; baseline: pickled pipeline). "
        f"What the default backend adds to the engine layer: the `clawline.nlu` sources ({nlu_kb:.0f} KB) and the "
        f"bot's artifact ({default['artifact_mb']:.2f} MB), and the static token table shared by every bot "
        f"(`clawline/nlu/data/minilm-static.npz`, {STATIC_TABLE.stat().st_size / 1e6:.1f} MB); numpy is already in "
        "the layer. The embedding backend "
        "needs its own layer: onnxruntime (arm64 wheel) + the 23 MB model directory.",
        f"- Machine load: 1-minute load average {load_before:.1f} at the start and {load_after:.1f} at the end on "
        f"{os.cpu_count()} cores (other sessions' jobs share this machine): timings are upper bounds.",
        "- Training time: wall time of the whole recipe (fit, calibrate on val, refit), one process, BLAS "
        "single-threaded, on a shared machine (other jobs were running: treat times as upper bounds).",
        "- Reference points (Larson et al., 2019, in-scope acc / OOS recall): SVM 88.2/18.0, FastText 88.6/28.3, "
        "Rasa 90.9/31.2, USE+MLP 93.4/49.1, BERT 96.2/52.3.",
    ]
    return "\n".join(md)


if __name__ == "__main__":
    main()
