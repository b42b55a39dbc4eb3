"""The training recipe on real data: a 10-intent slice of CLINC150 (the full set is in the benchmark)."""

from __future__ import annotations

from clawline.nlu.backend import NluEngine, train_artifact
from clawline.nlu.entities import EntitiesSpec, EntityExtractor
from clawline.nlu.evaluation import evaluate
from clawline.nlu.recipe import OOS_LABEL
from clawline.nlu.training import IntentData


def _data(rows):
    return IntentData([t for t, _ in rows], [OOS_LABEL if label == "oos" else label for _, label in rows])


def test_validation_tuned_model_classifies_and_rejects_held_out_clinc_messages(clinc_slice):
    intents: dict[str, list[str]] = {}
    for text, label in clinc_slice["train"]:
        intents.setdefault(label, []).append(text)
    validation = _data(clinc_slice["val"]) + _data(clinc_slice["oos_val"])
    model = train_artifact(intents, validation=validation, seed=0)
    assert model.meta["held_out"] == "validation"
    engine = NluEngine(model, EntityExtractor(EntitiesSpec(builtins=[])))
    report = evaluate(engine, _data(clinc_slice["test"]) + _data(clinc_slice["oos_test"][:300]))
    assert report.n_way_accuracy >= 0.93
    # The threshold may cost at most a few points of in-scope accuracy, and must catch out-of-scope messages.
    assert report.in_scope_accuracy >= report.n_way_accuracy - 0.05
    assert report.oos_recall is not None and report.oos_recall >= 0.3
    assert report.macro_f1 >= 0.8
