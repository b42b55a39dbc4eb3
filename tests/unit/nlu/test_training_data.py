"""Training data cannot silently go wrong: CSV headers, thin intents, reproducible artifacts, valid bots only."""

from __future__ import annotations

import time

import pytest

from clawline.cli import main as clawline
from clawline.nlu.backend import train_artifact
from clawline.nlu.datasets import DatasetError, load_dataset
from clawline.nlu.linear import LinearModel

CARRIERS = ["can you", "i want to", "please", "help me", "i need to", "how do i", "could you", "i would like to"]
TASKS = {
    "check_balance": "check my account balance",
    "transfer_money": "send money to my friend",
    "lost_card": "report my stolen credit card",
    "order_pizza": "order a large pepperoni pizza",
    "play_music": "play some jazz music",
    "set_alarm": "set an alarm for seven am",
    "weather": "know the weather forecast for tomorrow",
    "reset_password": "reset my forgotten password",
    "track_parcel": "track the parcel i was sent",
}
NINE = {intent: [f"{carrier} {task}" for carrier in CARRIERS] for intent, task in TASKS.items()}
#: The tenth intent has a single example.
TEN = {**NINE, "book_flight": ["book a flight to paris"]}


def test_one_intent_with_one_example_cannot_collapse_the_out_of_scope_threshold():
    without = train_artifact(NINE, seed=0)
    with_thin = train_artifact(TEN, seed=0)
    assert without.threshold > 0.05
    assert with_thin.threshold > 0.5 * without.threshold, (with_thin.threshold, without.threshold)
    assert with_thin.meta["thin_intents"] == ["book_flight"]
    assert with_thin.meta["held_out"] == "5-fold"


def test_train_reports_thin_intents(tmp_path, capsys):
    data = tmp_path / "ten.csv"
    rows = [f"{text},{intent}" for intent, texts in TEN.items() for text in texts]
    data.write_text("text,intent\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert clawline(["train", "--data", str(data), "--out", str(tmp_path / "m.npz")]) == 0
    err = capsys.readouterr().err
    assert "1 intent(s) with fewer than 3 examples: book_flight (1)" in err


def test_same_data_and_seed_give_a_byte_identical_artifact(tmp_path, monkeypatch):
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    train_artifact(NINE, seed=4).save(first)
    later = time.time() + 3600  # an hour later: a timestamp in the file would differ
    monkeypatch.setattr(time, "time", lambda: later)
    train_artifact(NINE, seed=4).save(second)
    assert first.read_bytes() == second.read_bytes()
    loaded = LinearModel.load(second)
    assert loaded.labels == sorted(NINE)


def test_csv_with_the_text_intent_header_loads_without_the_header_row(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("Text,Intent\nhello there,greet\nbye now,goodbye\n", encoding="utf-8")
    ds = load_dataset(data)
    assert ds.train.texts == ["hello there", "bye now"]
    assert ds.train.labels == ["greet", "goodbye"]


def test_csv_with_another_header_is_an_error_naming_its_columns(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("utterance,label\nhello there,greet\n", encoding="utf-8")
    with pytest.raises(DatasetError) as info:
        load_dataset(data)
    message = str(info.value)
    assert "'utterance', 'label'" in message
    assert "--text-column" in message


def test_csv_without_a_header_is_an_error_not_an_example(tmp_path, capsys):
    data = tmp_path / "d.csv"
    data.write_text("hello there,greet\nbye now,goodbye\n", encoding="utf-8")
    out = tmp_path / "m.npz"
    assert clawline(["train", "--data", str(data), "--out", str(out)]) == 1
    assert "no column 'text' in the header ('hello there', 'greet')" in capsys.readouterr().err
    assert not out.exists()


def test_explicit_columns_pick_the_text_and_the_intent(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("id,label,utterance\n1,greet,hello there\n2,goodbye,bye now\n", encoding="utf-8")
    ds = load_dataset(data, text_column="utterance", intent_column="label")
    assert ds.train.texts == ["hello there", "bye now"]
    assert ds.train.labels == ["greet", "goodbye"]
    assert clawline(["train", "--data", str(data), "--text-column", "utterance", "--intent-column", "label",
                     "--out", str(tmp_path / "m.npz")]) == 0  # fmt: skip


def test_a_row_with_missing_columns_is_located(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("text,intent\nhello there,greet\nbye now\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"d\.csv:3: 1 columns, the header has 2"):
        load_dataset(data)


def test_train_validates_the_bot_first(tmp_path, capsys):
    (tmp_path / "bot.yaml").write_text(
        "name: b\nintents:\n  greet: {examples: [hi, hello]}\nresponses:\n  fallback: [Sorry?]\n"
        "rules:\n  - {name: r, when: 'intent == \"gret\"', then: [{reply: fallback}]}\n",
        encoding="utf-8",
    )
    assert clawline(["train", "--bot", str(tmp_path)]) == 1
    assert "unknown intent 'gret' (did you mean 'greet'?)" in capsys.readouterr().err
    assert not (tmp_path / "model" / "nlu.npz").exists()


def test_one_example_intents_with_out_of_scope_examples_still_train():
    # Every fold's model must know every class: thin intents stay in training, only the out-of-scope class is
    # held out (a fold without a thin intent used to give held-out scores of another shape).
    model = train_artifact({"yes": ["yes"], "no": ["no"]}, oos_examples=["weather", "pizza", "joke", "news", "car"])
    assert model.meta["thin_intents"] == ["no", "yes"]
    assert model.labels[:2] == ["no", "yes"]
