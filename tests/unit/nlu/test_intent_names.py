"""An intent's name is one more example of it: what the name reads as, and what training does with it."""

from __future__ import annotations

import pytest

from clawline.nlu.backend import NluEngine, train_artifact
from clawline.nlu.intent_names import NAMES_BELOW, name_example, name_examples
from clawline.nlu.recipe import LinearRecipe, fingerprint

#: Intents whose examples never use the words of their names: only the name can teach them.
REFUNDS = {
    "request_refund": ["i want my money back", "give back what i paid", "return my payment please"],
    "track_package": ["where is my parcel", "has my order shipped yet", "when does my delivery arrive"],
    "greet": ["hi", "hello there", "good morning"],
}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("check_balance", "check balance"),
        ("turn-on", "turn on"),
        ("checkBalance", "check balance"),
        ("PTORequest", "pto request"),
        ("billing.refund/v2", "billing refund v2"),
        ("greet", "greet"),
        ("42", None),
        ("x", None),
        ("__", None),
    ],
)
def test_an_intent_name_reads_as_the_words_it_is_made_of(name, text):
    assert name_example(name) == text


def test_only_intents_short_of_examples_learn_from_their_names():
    texts, labels = name_examples({"check_balance": 10, "transfer": NAMES_BELOW, "x": 3, "pto_request": 49})
    assert list(zip(texts, labels, strict=True)) == [("check balance", "check_balance"), ("pto request", "pto_request")]


def test_a_name_the_examples_never_say_still_teaches_its_intent():
    with_names = NluEngine(train_artifact(REFUNDS))
    without = NluEngine(train_artifact(REFUNDS, recipe=LinearRecipe(intent_names=False)))
    # "track" appears in no example: with the names the bot understands it, without them it answers wrongly or
    # turns the message away.
    for text in ("track it", "track my package"):
        assert with_names.parse(text).intent == "track_package"
        assert without.parse(text).intent != "track_package"
    assert with_names.parse("refund").confidence > without.parse("refund").confidence


def test_names_are_never_held_out_nor_counted_as_the_bots_examples():
    model = train_artifact(REFUNDS)
    assert model.meta["n_examples"] == sum(len(v) for v in REFUNDS.values())
    assert model.meta["held_out"] == "3-fold"


def test_turning_names_off_is_another_recipe_with_another_fingerprint():
    on, off = LinearRecipe(), LinearRecipe(intent_names=False)
    assert on.to_json()["intent_names"] == NAMES_BELOW and "intent_names" not in off.to_json()
    assert fingerprint(REFUNDS, [], on) != fingerprint(REFUNDS, [], off)
