"""The ONNX graph builder and the embedding backend, on a small random BERT (the real model is in the benchmark)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from pydantic import ValidationError  # noqa: E402

from clawline.bot.compiled import Bot  # noqa: E402
from clawline.engine import nlu_factory  # noqa: E402
from clawline.errors import ConfigurationError  # noqa: E402
from clawline.nlu.backend import NluEngine, build_backend  # noqa: E402
from clawline.nlu.embedding import EmbeddingModel, SentenceEncoder, train_embedding_model  # noqa: E402
from clawline.nlu.ngram_companion import WEIGHTS  # noqa: E402
from clawline.settings import Settings  # noqa: E402

from .conftest import BANK_BOT, BANK_OOS, write_intents_bot  # noqa: E402

BUILDER = Path(__file__).resolve().parents[3] / "tools" / "nlu" / "build_minilm_onnx.py"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", *sorted({w for ex in BANK_BOT.values() for e in ex for w in e.split()})]


def _builder():
    spec = importlib.util.spec_from_file_location("build_minilm_onnx", BUILDER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _random_weights(b, vocab_size: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    h, inter = b.HIDDEN, 4 * b.HIDDEN

    def r(*shape):
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    w = {
        "embeddings.word_embeddings.weight": r(vocab_size, h),
        "embeddings.position_embeddings.weight": r(64, h),
        "embeddings.token_type_embeddings.weight": r(2, h),
        "embeddings.LayerNorm.weight": 1 + r(h),
        "embeddings.LayerNorm.bias": r(h),
    }
    for i in range(b.LAYERS):
        p = f"encoder.layer.{i}"
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            w[f"{p}.{name}.weight"], w[f"{p}.{name}.bias"] = r(h, h), r(h)
        w[f"{p}.intermediate.dense.weight"], w[f"{p}.intermediate.dense.bias"] = r(inter, h), r(inter)
        w[f"{p}.output.dense.weight"], w[f"{p}.output.dense.bias"] = r(h, inter), r(h)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[f"{p}.{ln}.weight"], w[f"{p}.{ln}.bias"] = 1 + r(h), r(h)
    return w


def _reference(b, w, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """BERT + mean pooling + L2 normalization in plain numpy: what the ONNX graph must compute."""

    def ln(x, p):
        mu, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + b.EPS) * w[f"{p}.weight"] + w[f"{p}.bias"]

    def dense(x, p):
        return x @ w[f"{p}.weight"].T + w[f"{p}.bias"]

    def erf(x):
        # Abramowitz & Stegun 7.1.26 (max error 1.5e-7): vectorized, unlike math.erf.
        t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
        poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
        return np.sign(x) * (1.0 - poly * np.exp(-x * x))

    def gelu(x):
        return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))

    seq = ids.shape[1]
    h = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:seq]
    h = ln(h + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
    heads, d = b.HEADS, b.HIDDEN // b.HEADS
    bias = (1.0 - mask[:, None, None, :]) * -10000.0
    for i in range(b.LAYERS):
        p = f"encoder.layer.{i}"

        def split(x):
            return x.reshape(x.shape[0], seq, heads, d).transpose(0, 2, 1, 3)

        q, k, v = (split(dense(h, f"{p}.attention.self.{n}")) for n in ("query", "key", "value"))
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
        a = np.exp(s - s.max(-1, keepdims=True))
        a /= a.sum(-1, keepdims=True)
        ctx = (a @ v).transpose(0, 2, 1, 3).reshape(h.shape)
        h1 = ln(dense(ctx, f"{p}.attention.output.dense") + h, f"{p}.attention.output.LayerNorm")
        h = ln(dense(gelu(dense(h1, f"{p}.intermediate.dense")), f"{p}.output.dense") + h1, f"{p}.output.LayerNorm")
    pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    b = _builder()
    weights = _random_weights(b, len(VOCAB))
    out = tmp_path_factory.mktemp("minilm")
    onnx.save(b.build_graph(weights), out / "model.onnx")
    (out / "vocab.txt").write_text("\n".join(VOCAB), encoding="utf-8")
    digest = hashlib.sha256((out / "model.onnx").read_bytes()).hexdigest()
    manifest = {"name": "random-test-bert", "dim": b.HIDDEN, "max_tokens": 32, "lowercase": True, "sha256": digest}
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    np.savez(out / "weights.npz", **weights)
    return out


def test_onnx_graph_computes_bert_mean_pooled_normalized_embeddings(model_dir: Path):
    b = _builder()
    with np.load(model_dir / "weights.npz") as data:
        w = {k: data[k] for k in data.files}
    encoder = SentenceEncoder(model_dir)
    texts = ["what is my balance", "i lost my card please block it"]
    ids = [encoder.tokenizer.encode(t) for t in texts]
    width = max(map(len, ids))
    tokens = np.array([i + [0] * (width - len(i)) for i in ids])
    mask = np.array([[1] * len(i) + [0] * (width - len(i)) for i in ids], dtype=np.float64)
    expected = _reference(b, w, tokens, mask)
    got = encoder.encode(texts)
    assert np.allclose(got, expected, atol=1e-4)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_padding_does_not_change_a_sentence_embedding(model_dir: Path):
    encoder = SentenceEncoder(model_dir)
    alone = encoder.encode(["hi"])
    batched = encoder.encode(["hi", "how much money do i have in my checking account"])
    assert np.allclose(alone[0], batched[0], atol=1e-5)


def test_embedding_backend_trains_saves_and_reloads_behind_the_same_interface(model_dir: Path, tmp_path):
    engine = build_backend(BANK_BOT, backend="embedding", embedding_model_dir=model_dir)
    assert engine.source == "memory"
    result = engine.parse("what is my balance")
    assert result.ranking[0].intent in BANK_BOT
    assert engine.parse("").out_of_scope
    model = engine.model
    assert isinstance(model, EmbeddingModel)
    model.save(tmp_path / "nlu-embedding.npz")
    again = build_backend(
        BANK_BOT, backend="embedding", embedding_model_dir=model_dir, artifact_path=tmp_path / "nlu-embedding.npz"
    )
    assert again.source == "artifact"
    assert np.allclose(again.model.probabilities("block my card"), model.probabilities("block my card"))


def test_the_configured_embedding_backend_is_what_the_engine_uses(model_dir: Path, tmp_path):
    bot = Bot.load(write_intents_bot(tmp_path / "bank", BANK_BOT))
    nlu = nlu_factory("embedding", model_dir)(bot)
    assert isinstance(nlu, NluEngine) and isinstance(nlu.model, EmbeddingModel)
    assert nlu.model.encoder.model_dir == model_dir
    # A head saved next to the bot is loaded instead of trained, as nlu.npz is for the default backend.
    nlu.model.save(tmp_path / "bank" / "model" / "nlu-embedding.npz")
    again = nlu_factory("embedding", model_dir)(bot)
    assert isinstance(again, NluEngine) and again.source == "artifact"


def test_a_head_trained_with_another_encoder_is_retrained_not_an_error(model_dir: Path, tmp_path):
    bot = Bot.load(write_intents_bot(tmp_path / "bank", BANK_BOT))
    nlu = nlu_factory("embedding", model_dir)(bot)
    assert isinstance(nlu, NluEngine)
    artifact = tmp_path / "bank" / "model" / "nlu-embedding.npz"
    nlu.model.save(artifact)
    other = tmp_path / "other-model"
    shutil.copytree(model_dir, other)
    manifest = json.loads((other / "manifest.json").read_text(encoding="utf-8"))
    (other / "manifest.json").write_text(json.dumps({**manifest, "sha256": "0" * 64}), encoding="utf-8")
    again = nlu_factory("embedding", other)(bot)
    assert isinstance(again, NluEngine) and again.source == "memory"


def test_the_embedding_backend_without_its_model_is_a_configuration_error_naming_the_files(tmp_path):
    bot = Bot.load(write_intents_bot(tmp_path / "bank", BANK_BOT))
    with pytest.raises(ConfigurationError, match=r"model\.onnx, vocab\.txt, manifest\.json in .*empty"):
        nlu_factory("embedding", tmp_path / "empty")(bot)


def test_the_backend_is_chosen_by_the_environment_and_checked():
    assert Settings.from_environ({}).nlu_backend == "linear"
    assert Settings.from_environ({"CLAWLINE_NLU_BACKEND": "embedding"}).nlu_backend == "embedding"
    with pytest.raises(ValidationError, match="nlu_backend"):
        Settings.from_environ({"CLAWLINE_NLU_BACKEND": "bert"})


def test_the_ngram_companion_is_chosen_by_cross_validation_saved_with_the_head_and_reloaded(model_dir: Path, tmp_path):
    # The random test encoder knows little, the n-gram model a lot: the folds must pick a weight above 0.
    model = train_embedding_model(BANK_BOT, BANK_OOS, encoder=SentenceEncoder(model_dir))
    assert model.companion is not None and model.companion.weight in WEIGHTS[1:]
    assert model.meta["ngram_weight"] == model.companion.weight
    head_only = model.logits_of(model.encoder.encode(["block my card"]))
    assert not np.allclose(model.logits_for(["block my card"]), head_only)  # the companion counts at parse time
    model.save(tmp_path / "nlu-embedding.npz")
    again = EmbeddingModel.load(tmp_path / "nlu-embedding.npz", model_dir)
    assert again.companion is not None and again.companion.weight == model.companion.weight
    assert np.allclose(again.probabilities("block my card"), model.probabilities("block my card"), atol=1e-6)
    alone = train_embedding_model(BANK_BOT, BANK_OOS, encoder=model.encoder, companion=False)
    assert alone.companion is None and alone.meta["fingerprint"] != model.meta["fingerprint"]


def test_a_bot_with_its_own_fine_tuned_encoder_uses_it_instead_of_the_deployments(model_dir: Path, tmp_path):
    bot_dir = write_intents_bot(tmp_path / "bank", BANK_BOT)
    own = bot_dir / "model" / "minilm"
    shutil.copytree(model_dir, own)
    nlu = nlu_factory("embedding", tmp_path / "deployment-model-not-needed")(Bot.load(bot_dir))
    assert isinstance(nlu, NluEngine) and isinstance(nlu.model, EmbeddingModel)
    assert nlu.model.encoder.model_dir == own
    # Without it, the deployment's model directory is the one required (and here missing: a clear error).
    shutil.rmtree(own)
    with pytest.raises(ConfigurationError, match="deployment-model-not-needed"):
        nlu_factory("embedding", tmp_path / "deployment-model-not-needed")(Bot.load(bot_dir))


def test_the_head_clawline_train_writes_for_a_bot_with_annotated_examples_is_the_one_the_engine_loads(
    model_dir: Path, tmp_path
):
    from clawline.cli import main as clawline

    bot_dir = write_intents_bot(tmp_path / "bank", BANK_BOT)
    assert "](recipient)" in (bot_dir / "bot.yaml").read_text(encoding="utf-8")
    args = ["train", "--bot", str(bot_dir), "--backend", "embedding", "--embedding-model", str(model_dir)]
    assert clawline(args) == 0
    nlu = nlu_factory("embedding", model_dir)(Bot.load(bot_dir))
    assert isinstance(nlu, NluEngine) and nlu.source == "artifact"
