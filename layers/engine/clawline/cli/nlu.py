"""``clawline train`` and ``clawline nlu eval``: build NLU artifacts and measure them.

Heavy imports (numpy, the NLU package, onnxruntime) happen inside the handlers, so ``clawline --help``
stays instant.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clawline.nlu.backend import NluEngine
    from clawline.nlu.datasets import NluDataset
    from clawline.nlu.training import IntentData

DEFAULT_EMBEDDING_DIR = Path("build/nlu/minilm")


def _limit_blas_threads() -> None:
    # Training does many small matrix products; OpenBLAS's thread pool makes those several times slower
    # on a busy or small machine. Must be set before numpy is first imported.
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")


class ProgressBar:
    """A one-line text progress bar on stderr (no dependency; quiet when stderr is not a terminal)."""

    def __init__(self, stream: Any = None, width: int = 30) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.started = time.perf_counter()
        self._last = ""

    def __call__(self, stage: str, done: int, total: int) -> None:
        filled = int(self.width * done / max(total, 1))
        elapsed = time.perf_counter() - self.started
        line = f"\r{stage:>10} [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} {elapsed:6.1f}s"
        interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        if line != self._last and (interactive or done >= total):
            self.stream.write((line if interactive else line.lstrip("\r")) + ("\n" if done >= total else ""))
            self.stream.flush()
            self._last = line


def _add_data_args(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--bot", type=Path, help="bot directory (reads bot.yaml; writes model/ beside it)")
    source.add_argument("--data", type=Path, help="data set: CLINC-style JSON, Rasa NLU YAML, bot YAML/JSON, or CSV")
    parser.add_argument(
        "--backend", choices=["linear", "embedding"], default=None, help="default: the bot's nlu_backend, else linear"
    )
    parser.add_argument("--embedding-model", type=Path, default=DEFAULT_EMBEDDING_DIR, help="ONNX model directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--no-oos-class", action="store_true", help="ignore out-of-scope training examples (threshold only)"
    )
    parser.add_argument("--text-column", help="CSV/TSV: the header of the text column (default: text)")
    parser.add_argument("--intent-column", help="CSV/TSV: the header of the intent column (default: intent)")


def register(subparsers: Any) -> None:
    train = subparsers.add_parser("train", help="train the bot's NLU model into a compact artifact")
    _add_data_args(train)
    train.add_argument("--out", type=Path, help="artifact path (default: <bot>/model/nlu.npz or build/nlu/<name>.npz)")
    train.add_argument(
        "--folds", type=int, default=0, help="first compare the backends by K-fold cross-validation and recommend one"
    )
    train.add_argument(
        "--fine-tune",
        action="store_true",
        help="embedding backend: fine-tune the encoder on these examples first (the bot's nlu_fine_tune; "
        "needs `make finetune`)",
    )
    train.set_defaults(handler=_train)

    nlu = subparsers.add_parser("nlu", help="NLU tools")
    nlu_sub = nlu.add_subparsers(dest="nlu_command", metavar="COMMAND")
    ev = nlu_sub.add_parser("eval", help="evaluate on a test set or by cross-validation")
    _add_data_args(ev)
    ev.add_argument("--model", type=Path, help="trained artifact to evaluate (default: train in memory)")
    ev.add_argument("--test", type=Path, help="test data (default: the data set's test split)")
    ev.add_argument("--folds", type=int, default=0, help="k-fold cross-validation on the training data instead")
    ev.add_argument("--report", type=Path, default=Path("reports/nlu-eval.json"))
    ev.add_argument("--confusion", type=Path, default=Path("reports/nlu-confusion.png"))
    ev.add_argument(
        "--plot",
        type=Path,
        default=Path("reports/nlu-confusion.svg"),
        help="labelled confusion plot (SVG; with many classes also <name>-focus.svg)",
    )
    ev.add_argument("--html", type=Path, default=Path("reports/nlu-eval.html"), help="HTML report")
    ev.set_defaults(handler=_eval)


def _dataset(args: argparse.Namespace, language: str | None = None) -> tuple[NluDataset, str]:
    """The data to train on: the data set, or the bot's examples in ``language`` (default: its default one)."""
    from clawline.nlu.datasets import NluDataset, load_dataset
    from clawline.nlu.training import IntentData

    if args.bot is not None:
        # The bot loader (includes, validation) and ``nlu_inputs`` are what the engine builds its backend from:
        # training from the same inputs makes the artifact's fingerprint match at cold start.
        from clawline.engine import nlu_inputs

        definition = _bot_definition(args)
        inputs = nlu_inputs(definition, language)
        oos = [] if args.no_oos_class else inputs["oos_examples"]
        train = IntentData.from_intents(inputs["intents"], oos)
        return NluDataset(train=train, entities=inputs["entities"]), args.bot.name
    if args.backend is None:
        args.backend = "linear"
    columns = {"text_column": args.text_column, "intent_column": args.intent_column}
    return load_dataset(args.data, oos_class=not args.no_oos_class, **columns), args.data.stem


def _bot_definition(args: argparse.Namespace) -> Any:
    """The bot's definition, loaded (and the whole bot validated) once per command."""
    definition = getattr(args, "definition", None)
    if definition is None:
        from clawline.bot.compiled import Bot

        # The whole bot is validated first: a model of a bot that does not load would never be used.
        definition = args.definition = Bot.load(args.bot).definition
    if args.backend is None:
        args.backend = definition.settings.nlu_backend or "linear"
    return definition


def _languages(args: argparse.Namespace) -> list[tuple[str | None, str]]:
    """One model per language that has examples: (None for the default language or a data set, its label)."""
    if args.bot is None:
        return [(None, "")]
    default, *others = _bot_definition(args).nlu_languages()
    return [(None, f"{default} (default)"), *((lang, lang) for lang in others)]


def _default_out(args: argparse.Namespace, name: str, language: str | None = None) -> Path:
    from clawline.engine import model_file_name

    filename = model_file_name(args.backend, language)
    if args.out is not None:
        out = Path(args.out)
        # Another language's model goes beside the default one's: model.npz -> model.es.npz.
        return out.with_name(f"{out.stem}.{language}{out.suffix}") if language else out
    if args.bot is not None:
        return Path(args.bot) / "model" / filename
    return Path("build/nlu") / f"{name}-{filename}"


def _train(args: argparse.Namespace) -> int:
    """Train the data set's model, or one model per language of the bot (``nlu.npz``, ``nlu.<lang>.npz``)."""
    _limit_blas_threads()
    from clawline.errors import ConfigurationError
    from clawline.nlu.datasets import DatasetError

    try:
        languages = _languages(args)
        for language, label in languages:
            if len(languages) > 1:
                print(f"language {label}:")
            ds, name = _dataset(args, language)
            out = _default_out(args, name, language)
            if language is None and _fine_tune_requested(args):
                # The default language's examples fine-tune the encoder; every language's head uses it.
                args.embedding_model = _fine_tune(args, ds, out)
            code = _train_one(args, ds, out)
            if code:
                return code
    except (ConfigurationError, DatasetError) as exc:
        print(f"clawline train: {exc}", file=sys.stderr)
        return 1
    return 0


def _fine_tune_requested(args: argparse.Namespace) -> bool:
    wanted = bool(args.fine_tune) or (args.bot is not None and _bot_definition(args).settings.nlu_fine_tune)
    if wanted and args.backend != "embedding":
        from clawline.errors import ConfigurationError

        raise ConfigurationError("fine-tuning is for the embedding backend: use --backend embedding")
    return wanted


def _fine_tune(args: argparse.Namespace, ds: NluDataset, out: Path) -> Path:
    """Fine-tune MiniLM on the training examples into the bot's own model directory; returns that directory."""
    from clawline.nlu.embedding import BOT_MODEL_DIR
    from clawline.nlu.fine_tuning import fine_tune_encoder

    # A bot's encoder goes where the engine looks for it (<bot>/model/minilm); a data set's beside its artifact.
    model_dir = out.parent / (BOT_MODEL_DIR if args.bot is not None else f"{out.stem}-{BOT_MODEL_DIR}")
    print(f"fine-tuning the encoder on {len(ds.train)} examples (minutes on 2 cores) -> {model_dir}", flush=True)
    report = fine_tune_encoder(ds.intents(), ds.oos_examples(), model_dir, seed=args.seed)
    print(
        f"fine-tuned in {report.fine_tune_s:.0f}s ({report.steps} steps, final loss {report.loss:.3f}), exported "
        f"int8 ONNX in {report.total_s - report.fine_tune_s:.0f}s ({report.bytes / 1e6:.1f} MB)"
    )
    return model_dir


def _train_one(args: argparse.Namespace, ds: NluDataset, out: Path) -> int:
    from clawline.nlu.advice import ExampleCounts
    from clawline.nlu.backend import train_artifact
    from clawline.nlu.recipe import OOS_LABEL

    _report_thin_intents(ds.intents())
    pool = ds.train + ds.validation if ds.validation is not None else ds.train
    counts = ExampleCounts.of_labels(pool.labels, OOS_LABEL)
    for line in counts.summary():
        print(line)
    if args.folds:
        if args.folds < 2:
            print("--folds needs at least 2", file=sys.stderr)
            return 2
        _compare_backends(args, ds, pool)
    elif counts.thin() or counts.median < 30:
        print(f"to compare backends on this data: clawline train {_source_flag(args)} --folds 5")
    progress = ProgressBar()
    started = time.perf_counter()
    if args.backend == "embedding":
        from clawline.nlu.embedding import train_embedding_model

        emb = train_embedding_model(
            ds.intents(), ds.oos_examples(), validation=ds.validation, seed=args.seed,
            model_dir=args.embedding_model, progress=progress,
        )  # fmt: skip
        emb.save(out)
        n_classes, threshold = len(emb.labels), emb.threshold
    else:
        linear = train_artifact(
            ds.intents(), oos_examples=ds.oos_examples(), validation=ds.validation, seed=args.seed, progress=progress
        )
        linear.save(out)
        n_classes, threshold = len(linear.labels), linear.threshold
    seconds = time.perf_counter() - started
    print(
        f"trained {n_classes} classes on {len(ds.train)} examples in {seconds:.1f}s; "
        f"threshold {threshold:.3f}; wrote {out} ({out.stat().st_size / 1e6:.2f} MB)"
    )
    return 0


def _report_thin_intents(intents: dict[str, list[str]]) -> None:
    from clawline.nlu.threshold import MIN_CALIBRATION_EXAMPLES, thin_intents

    thin = thin_intents({name: len(examples) for name, examples in intents.items()})
    if thin:
        listed = ", ".join(f"{name} ({len(intents[name])})" for name in thin)
        print(
            f"warning: {len(thin)} intent(s) with fewer than {MIN_CALIBRATION_EXAMPLES} examples: {listed}. "
            "Add examples; they are left out of the out-of-scope threshold's calibration.",
            file=sys.stderr,
        )


def _source_flag(args: argparse.Namespace) -> str:
    return f"--bot {args.bot}" if args.bot is not None else f"--data {args.data}"


def _embedding_unavailable(model_dir: Path) -> str | None:
    """Why the embedding backend cannot run here, or None when it can."""
    from clawline.errors import ConfigurationError
    from clawline.nlu.embedding import require_encoder

    try:
        require_encoder(model_dir)
    except ConfigurationError as exc:
        return str(exc)
    return None


def _compare_backends(args: argparse.Namespace, ds: NluDataset, pool: IntentData) -> None:
    """K-fold cross-validation of each available backend on the bot's own examples, and a recommendation."""
    import numpy as np

    from clawline.nlu.advice import EMBEDDING_LINE, BackendScore, ExampleCounts, fine_tune_hint, recommend, score_table
    from clawline.nlu.evaluation import evaluate_folds
    from clawline.nlu.recipe import OOS_LABEL
    from clawline.nlu.training import stratified_folds

    smallest = min(Counter(pool.labels).values())
    n_folds = min(args.folds, smallest)
    if n_folds < 2:
        print(f"cannot cross-validate: an intent has {smallest} example(s); every intent needs 2 or more")
        return
    backends = ["linear", "embedding"]
    missing = _embedding_unavailable(args.embedding_model)
    if missing is not None:
        backends.remove("embedding")
        print(f"embedding backend not compared: {missing}")
    fold_of = stratified_folds(pool.labels, n_folds, args.seed)
    scores = []
    chosen = args.backend
    for backend in backends:
        args.backend = backend
        folds = []
        for k in range(n_folds):
            train = pool.subset(np.flatnonzero(fold_of != k))
            folds.append((_engine_from(args, ds, train, None, quiet=True), pool.subset(np.flatnonzero(fold_of == k))))
        report = evaluate_folds(folds)
        scores.append(
            BackendScore(
                backend, report.n_way_accuracy, report.in_scope_accuracy, report.oos_recall, report.latency_ms["p50"]
            )
        )
    args.backend = chosen
    print(f"{n_folds}-fold cross-validation on {len(pool)} examples:")
    for line in score_table(scores):
        print("  " + line)
    best, why = recommend(scores, chosen)
    print(f"recommended backend: {best} ({why})")
    if best == "embedding" and chosen != "embedding":
        print("to use it, add to bot.yaml:\n  " + EMBEDDING_LINE.replace("\n", "\n  "))
        print(
            "then run this command again (it trains the backend bot.yaml names) and deploy with the NLU embedding "
            "layer (docs/deploy.md)"
        )
    if best == "embedding" and not (
        args.fine_tune or (args.bot is not None and _bot_definition(args).settings.nlu_fine_tune)
    ):
        for line in fine_tune_hint(ExampleCounts.of_labels(pool.labels, OOS_LABEL)):
            print(line)
    elif missing is not None and smallest < 30:
        print("with few examples per intent the embedding backend is often several points ahead: see docs/nlu.md")


def _engine_from(
    args: argparse.Namespace, ds: NluDataset, train: IntentData, validation: IntentData | None, *, quiet: bool = False
) -> NluEngine:
    from clawline.nlu.backend import NluEngine, train_artifact
    from clawline.nlu.entities import EntityExtractor
    from clawline.nlu.recipe import OOS_LABEL

    intents: dict[str, list[str]] = {}
    for text, label in zip(train.texts, train.labels, strict=True):
        if label != OOS_LABEL:
            intents.setdefault(label, []).append(text)
    oos = [t for t, label in zip(train.texts, train.labels, strict=True) if label == OOS_LABEL]
    if args.backend == "embedding":
        from clawline.nlu.embedding import train_embedding_model

        emb = train_embedding_model(intents, oos, validation=validation, seed=args.seed, model_dir=args.embedding_model)
        return NluEngine(emb, EntityExtractor(ds.entities))
    progress = None if quiet else ProgressBar()
    linear = train_artifact(intents, oos_examples=oos, validation=validation, seed=args.seed, progress=progress)
    return NluEngine(linear, EntityExtractor(ds.entities))


def _eval(args: argparse.Namespace) -> int:
    _limit_blas_threads()
    import numpy as np

    from clawline.nlu.datasets import load_dataset
    from clawline.nlu.evaluation import evaluate_folds
    from clawline.nlu.training import stratified_folds

    ds, _ = _dataset(args)
    folds: list[tuple[NluEngine, IntentData]] = []
    if args.folds:
        if args.folds < 2:
            print("--folds needs at least 2", file=sys.stderr)
            return 2
        pool = ds.train + ds.validation if ds.validation is not None else ds.train
        fold_of = stratified_folds(pool.labels, args.folds, args.seed)
        for k in range(args.folds):
            held = pool.subset(np.flatnonzero(fold_of == k))
            engine = _engine_from(args, ds, pool.subset(np.flatnonzero(fold_of != k)), None)
            folds.append((engine, held))
    else:
        test = load_dataset(args.test).train if args.test is not None else ds.test
        if test is None:
            print("no test split in the data set: pass --test FILE or --folds K", file=sys.stderr)
            return 2
        trained_now = args.model is None
        engine = _engine_from(args, ds, ds.train, ds.validation) if trained_now else _load_engine(args, ds)
        folds.append((engine, test))
    report = evaluate_folds(folds)
    print(report.summary())
    report.write_json(args.report)
    report.write_confusion_png(args.confusion)
    from clawline.nlu.eval_report import write_html, write_plots

    plots = write_plots(report, args.plot)
    write_html(report, args.html, plots)
    print(f"wrote {args.report}, {args.confusion}, {', '.join(map(str, plots))} and {args.html}")
    return 0


def _load_engine(args: argparse.Namespace, ds: NluDataset) -> NluEngine:
    from clawline.nlu.backend import NluEngine
    from clawline.nlu.entities import EntityExtractor

    if args.backend == "embedding":
        from clawline.nlu.embedding import EmbeddingModel

        return NluEngine(EmbeddingModel.load(args.model, args.embedding_model), EntityExtractor(ds.entities))
    from clawline.nlu.linear import LinearModel

    return NluEngine(LinearModel.load(args.model), EntityExtractor(ds.entities), source="artifact")
