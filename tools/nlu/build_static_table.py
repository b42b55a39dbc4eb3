"""Distil all-MiniLM-L6-v2 into a static token-embedding table for the default NLU backend.

    python tools/nlu/build_static_table.py --model build/nlu/minilm \
        --out layers/engine/clawline/nlu/data/minilm-static.npz

Each WordPiece token of the model's vocabulary is encoded alone (``[CLS] token [SEP]``) by the ONNX model that
``tools/nlu/build_minilm_onnx.py`` builds, the 384-dimensional vectors are reduced to 256 by PCA, each row is
scaled by a Zipf weight (``log(1 + rank)``: BERT's vocabulary is ordered by frequency from "the" on, so frequent
words count less in the mean, as SIF weighting does), then stored as int8 with one scale per row. At run time a
message's vector is the normalized sum of its tokens' rows: a gather and a small product, with numpy only
(``clawline.nlu.static``). The file is committed, so training and serving never need the model or onnxruntime.

Needs onnxruntime (dev requirements) and the built model directory, at build time only. Deterministic: the
same model gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
from pathlib import Path

import numpy as np

DIM = 256
#: The first real word in BERT's uncased vocabulary ("the"); ids before it are specials and single characters.
FIRST_WORD_ID = 1996
BATCH = 1024


def encode_tokens(model_dir: Path) -> tuple[list[str], np.ndarray]:
    import onnxruntime as ort

    vocab = (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
    cls, sep = vocab.index("[CLS]"), vocab.index("[SEP]")
    ids = np.stack([np.full(len(vocab), cls), np.arange(len(vocab)), np.full(len(vocab), sep)], axis=1).astype(np.int64)
    parts = []
    for start in range(0, len(vocab), BATCH):
        chunk = ids[start : start + BATCH]
        (emb,) = session.run(["sentence_embedding"], {"input_ids": chunk, "attention_mask": np.ones_like(chunk)})
        parts.append(emb)
    return vocab, np.concatenate(parts).astype(np.float64)


def distil(vectors: np.ndarray, dim: int = DIM) -> tuple[np.ndarray, np.ndarray]:
    """PCA to ``dim``, Zipf weighting, int8 rows with one float32 scale each."""
    centered = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    # SVD signs are arbitrary: fix each component's sign so the table is the same on every machine.
    signs = np.sign(vt[:dim].sum(axis=1, keepdims=True))
    signs[signs == 0] = 1.0
    reduced = centered @ (vt[:dim] * signs).T
    rank = np.maximum(np.arange(len(vectors)) - FIRST_WORD_ID + 1, 1)
    weighted = reduced * np.log1p(rank)[:, None]
    peak = np.abs(weighted).max(axis=1)
    scales = np.where(peak > 0, peak / 127.0, 1.0)
    table = np.clip(np.rint(weighted / scales[:, None]), -127, 127).astype(np.int8)
    return table, scales.astype(np.float32)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("build/nlu/minilm"), help="the ONNX model directory")
    parser.add_argument("--out", type=Path, default=Path("layers/engine/clawline/nlu/data/minilm-static.npz"))
    args = parser.parse_args(argv)
    manifest = json.loads((args.model / "manifest.json").read_text(encoding="utf-8"))
    vocab, vectors = encode_tokens(args.model)
    table, scales = distil(vectors)
    header = {
        "format": "clawline-nlu-static",
        "version": 1,
        "source": manifest["name"],
        "source_sha256": manifest["sha256"],
        "dim": DIM,
        "pooling": "sum of Zipf-weighted token rows, L2-normalized",
    }
    buffer = io.BytesIO()
    np.savez(
        buffer,
        header=np.frombuffer(json.dumps(header, sort_keys=True).encode(), np.uint8),
        vocab=np.frombuffer("\n".join(vocab).encode("utf-8"), np.uint8),
        table=table,
        scales=scales,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(buffer.getvalue())
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()[:16]
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB, {len(vocab)} x {DIM}, sha256 {digest}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
