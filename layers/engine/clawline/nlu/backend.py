"""The NLU entry point for the engine: ``build_backend`` and the ``NluEngine`` it returns.

``NluEngine.parse`` never raises on text: empty, whitespace, emoji-only, binary junk or oversized text
comes back out of scope. Only a non-string argument is refused, with ``NluInputError``.

Examples
--------
>>> nlu = build_backend({"greet": ["hi", "hello there", "good morning"], "bye": ["bye", "see you", "good night"]})
>>> nlu.parse("hello!").intent
'greet'
>>> nlu.parse("").out_of_scope
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from clawline.nlu import static_table
from clawline.nlu.entities import EntitiesSpec, EntityExtractor
from clawline.nlu.examples import plain_text, split_examples
from clawline.nlu.npz_views import peek
from clawline.nlu.parsing import MAX_TEXT_CHARS, RANKING_SIZE, NluEngine, NluInputError, ProbabilisticModel
from clawline.nlu.recipe import LinearRecipe, fingerprint

if TYPE_CHECKING:
    from clawline.nlu.linear import LinearModel
    from clawline.nlu.training import IntentData

ARTIFACT_NAME = "nlu.npz"

if not static_table.TABLE_PATH.is_file():
    # The NLU layer (the static token table and numpy) is not attached to this function. ``clawline.engine.build_nlu``
    # answers this ImportError with the keyword matcher, as it did when numpy, imported here before, was missing.
    raise ImportError(f"the NLU layer is not installed: no static token table at {static_table.TABLE_PATH}")

__all__ = [
    "ARTIFACT_NAME",
    "MAX_TEXT_CHARS",
    "RANKING_SIZE",
    "NluEngine",
    "NluInputError",
    "ProbabilisticModel",
    "build_backend",
    "train_artifact",
]


def train_artifact(
    intents: Mapping[str, Sequence[str]],
    *,
    oos_examples: Sequence[str] = (),
    validation: IntentData | None = None,
    seed: int = 0,
    recipe: LinearRecipe | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> LinearModel:
    """Train the default model from (possibly annotated) examples, stamped with their fingerprint."""
    from clawline.nlu.training import IntentData, train_linear

    recipe = (recipe or LinearRecipe()).with_seed(seed)
    plain, _ = split_examples(intents)
    oos_plain = [plain_text(t) for t in oos_examples]
    data = IntentData.from_intents(plain, oos_plain)
    stamp = {"fingerprint": fingerprint(plain, oos_plain, recipe)}
    return train_linear(data, validation=validation, recipe=recipe, progress=progress, meta=stamp)


def build_backend(
    intents: Mapping[str, Sequence[str]],
    *,
    entities: EntitiesSpec | None = None,
    oos_examples: Sequence[str] = (),
    artifact_path: Path | None = None,
    seed: int = 0,
    backend: Literal["linear", "embedding"] = "linear",
    embedding_model_dir: Path | None = None,
) -> NluEngine:
    """An ``NluBackend`` for a bot: its trained artifact when it matches these examples, else trained now.

    Parameters
    ----------
    intents
        Intent name -> examples; examples may carry Rasa-style entity annotations.
    entities
        The bot's regexes, lookup tables and built-ins; annotated values in examples are added to lookups.
    oos_examples
        Out-of-scope examples; when given, the model learns an out-of-scope class.
    artifact_path
        ``bots/<name>/model/nlu.npz`` (or ``nlu-embedding.npz``). Used only if its fingerprint matches.
    seed
        Training seed (training is deterministic for a seed).
    backend
        ``"linear"`` (default, numpy only) or ``"embedding"`` (needs onnxruntime and the model directory).
    """
    plain, annotations = split_examples(intents)
    oos_plain = [plain_text(t) for t in oos_examples]
    spec = (entities or EntitiesSpec()).with_annotations(annotations)
    extractor = EntityExtractor(spec)
    if backend == "embedding":
        from clawline.nlu.embedding import build_embedding_model

        emb_model, source = build_embedding_model(
            plain, oos_plain, artifact_path=artifact_path, seed=seed, model_dir=embedding_model_dir
        )
        return NluEngine(emb_model, extractor, source=source)
    recipe = LinearRecipe().with_seed(seed)
    expected = fingerprint(plain, oos_plain, recipe)
    if artifact_path is not None:
        found = peek(artifact_path)  # read once: its header decides, its arrays are the model
        if found is not None and found[0].get("meta", {}).get("fingerprint") == expected:
            # The trained artifact scores without numpy (``linear_runtime``): a classifying cold start skips its import.
            from clawline.nlu.linear_runtime import RuntimeLinearModel

            header, arrays = found
            try:
                return NluEngine(
                    RuntimeLinearModel.from_arrays(header, arrays, artifact_path), extractor, source="artifact"
                )
            except (OSError, ValueError, KeyError):
                pass  # unreadable after all: trained below, like a missing one
    # Missing, stale or unreadable: train now (numpy).
    from clawline.nlu.training import IntentData, train_linear

    data = IntentData.from_intents(plain, oos_plain)
    model = train_linear(data, recipe=recipe, meta={"fingerprint": expected})
    return NluEngine(model, extractor, source="memory")
