"""A deterministic sentence encoder for tests: a real ONNX model directory whose meaning is known in advance.

Each word of its vocabulary belongs to a *concept*; a word's vector is its concept's axis, and a sentence's vector is
the mean of its tokens' vectors, L2-normalized (the graph's shape is MiniLM's: token ids and attention mask in,
``sentence_embedding`` out), so two sentences that share no word but whose words share a concept get the same
vector: paraphrases, as far as this encoder is concerned. Words it does not know are ``[UNK]``, which, like
``[CLS]`` and ``[SEP]``, points along one neutral axis of its own: a sentence of unknown words says nothing.

The words are made up (syllables drawn from a seeded generator): no English word, so the default backend's n-grams
and static MiniLM token vectors know nothing about them, while the encoder knows their concepts. That is the
few-shot case the embedding backend is for, made exact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
#: The special tokens' vector: small, on the neutral axis, so a sentence is never the zero vector.
NEUTRAL = 0.3


def made_up_words(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct made-up words of three consonant-vowel syllables ("bazoki"), deterministic for a seed."""
    rng = np.random.default_rng(seed)
    consonants, vowels = "bdfgklmnprstvz", "aeiou"
    words: list[str] = []
    seen: set[str] = set()
    while len(words) < count:
        word = "".join(consonants[rng.integers(len(consonants))] + vowels[rng.integers(len(vowels))] for _ in range(3))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def write_concept_encoder(directory: Path, concepts: Mapping[str, Sequence[str]]) -> Path:
    """Write ``model.onnx``, ``vocab.txt`` and ``manifest.json`` of the encoder of ``concepts`` (name -> words)."""
    from onnx import TensorProto, helper, numpy_helper

    vocab = [*SPECIAL, *sorted({w for words in concepts.values() for w in words})]
    axis = {name: i for i, name in enumerate(sorted(concepts))}
    dim = len(axis) + 1  # the last axis is the neutral one
    table = np.zeros((len(vocab), dim), np.float32)
    table[: len(SPECIAL), dim - 1] = NEUTRAL
    row = {word: i for i, word in enumerate(vocab)}
    for name, words in concepts.items():
        for word in words:
            table[row[word], axis[name]] = 1.0
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["vectors"]),
        helper.make_node("Cast", ["attention_mask"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask", "last"], ["mask3"]),
        helper.make_node("Mul", ["vectors", "mask3"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "tokens_axis"], ["summed"], keepdims=0),
        helper.make_node("LpNormalization", ["summed"], ["sentence_embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        nodes,
        "concept-encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", dim])],
        [
            numpy_helper.from_array(table, "table"),
            numpy_helper.from_array(np.array([2], np.int64), "last"),
            numpy_helper.from_array(np.array([1], np.int64), "tokens_axis"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9  # what onnxruntime 1.x reads
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "model.onnx").write_bytes(model.SerializeToString())
    (directory / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    digest = hashlib.sha256((directory / "model.onnx").read_bytes()).hexdigest()
    manifest = {"name": "concept-test-encoder", "dim": dim, "max_tokens": 32, "lowercase": True, "sha256": digest}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return directory
