from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import yaml

from clawline.cli import main as clawline
from clawline.nlu.datasets import load_dataset
from clawline.nlu.linear import LinearModel
from clawline.nlu.png import confusion_image, write_gray_png
from clawline.nlu.recipe import OOS_LABEL
from clawline.nlu.wordpiece import WordPieceTokenizer

from .conftest import BANK_BOT, BANK_OOS


def _read_png(path):
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", raw[16:24])
    idat_len = struct.unpack(">I", raw[33:37])[0]
    pixels = zlib.decompress(raw[41 : 41 + idat_len])
    rows = np.frombuffer(pixels, np.uint8).reshape(height, width + 1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:]


def test_png_writer_round_trips_pixels(tmp_path):
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    write_gray_png(tmp_path / "x.png", pixels)
    assert np.array_equal(_read_png(tmp_path / "x.png"), pixels)


def test_confusion_image_is_dark_where_predictions_go():
    img = confusion_image(np.array([[9, 1], [0, 10]]), cell=2)
    assert img.shape == (4, 4)
    assert img[0, 0] < img[0, 2] < 255
    assert img[2, 0] == 255


def test_train_then_eval_from_the_command_line(tmp_path, capsys):
    data = tmp_path / "bank.yaml"
    data.write_text(yaml.safe_dump({"intents": BANK_BOT, "oos": BANK_OOS}), encoding="utf-8")
    out = tmp_path / "model" / "nlu.npz"
    assert clawline(["train", "--data", str(data), "--out", str(out)]) == 0
    model = LinearModel.load(out)
    assert set(model.labels) == {*BANK_BOT, OOS_LABEL}

    report, png = tmp_path / "report.json", tmp_path / "confusion.png"
    argv = ["nlu", "eval", "--data", str(data), "--folds", "3", "--report", str(report), "--confusion", str(png)]
    argv += ["--plot", str(tmp_path / "confusion.svg"), "--html", str(tmp_path / "report.html")]
    assert clawline(argv) == 0
    assert "<svg" in (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "check_balance" in (tmp_path / "confusion.svg").read_text(encoding="utf-8")
    printed = capsys.readouterr().out
    assert "macro F1" in printed
    assert "latency per query" in printed
    body = json.loads(report.read_text())
    assert body["n_examples"] == sum(len(v) for v in BANK_BOT.values()) + len(BANK_OOS)
    assert 0.0 <= body["accuracy"] <= 1.0
    assert set(body["latency_ms"]) >= {"p50", "p99"}
    n = len(body["labels"])
    assert _read_png(png).shape == (4 * n, 4 * n)


def test_eval_of_a_saved_model_on_a_test_file(tmp_path, capsys):
    data = tmp_path / "bank.json"
    data.write_text(json.dumps({"intents": BANK_BOT}), encoding="utf-8")
    test = tmp_path / "test.csv"
    test.write_text("text,intent\nwhat's my balance,check_balance\nmy card is gone,lost_card\nhowdy,greet\n")
    model = tmp_path / "nlu.npz"
    assert clawline(["train", "--data", str(data), "--out", str(model)]) == 0
    report = tmp_path / "r.json"
    argv = ["nlu", "eval", "--data", str(data), "--model", str(model), "--test", str(test), "--report", str(report)]
    argv += ["--confusion", str(tmp_path / "c.png"), "--plot", str(tmp_path / "c.svg")]
    argv += ["--html", str(tmp_path / "r.html")]
    assert clawline(argv) == 0
    assert json.loads(report.read_text())["n_examples"] == 3


def test_rasa_nlu_yaml_gives_intents_lookups_synonyms_and_regexes(tmp_path):
    path = tmp_path / "nlu.yml"
    path.write_text(
        """
nlu:
- intent: book
  examples: |
    - fly to [Paris](city)
    - book a flight to [NYC]{"entity": "city", "value": "New York"}
- intent: out_of_scope
  examples: |
    - what is love
- lookup: city
  examples: |
    - Berlin
    - Rome
- synonym: Rome
  examples: |
    - the eternal city
- regex: zipcode
  examples: |
    - \\b\\d{5}\\b
""",
        encoding="utf-8",
    )
    ds = load_dataset(path)
    assert ds.intents() == {"book": ["fly to Paris", "book a flight to NYC"]}
    assert ds.oos_examples() == ["what is love"]
    lookups = {t.name: t.values for t in ds.entities.lookups}
    assert lookups["city"]["Rome"] == ["the eternal city"]
    assert lookups["city"]["New York"] == ["NYC"]
    assert ds.entities.regexes[0].name == "zipcode"


def test_clinc_style_json_maps_oos_splits_to_out_of_scope(tmp_path):
    path = tmp_path / "d.json"
    rows = {"train": [["hi", "greet"]], "val": [["hello", "greet"]], "test": [["hey", "greet"]]}
    rows |= {"oos_train": [["meh", "oos"]], "oos_val": [["huh", "oos"]], "oos_test": [["what", "oos"]]}
    path.write_text(json.dumps(rows))
    ds = load_dataset(path)
    assert ds.train.labels == ["greet", OOS_LABEL]
    assert ds.validation is not None and ds.validation.labels == ["greet", OOS_LABEL]
    assert load_dataset(path, oos_class=False).train.labels == ["greet"]


def test_wordpiece_splits_unknown_words_into_known_pieces(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "play", "##ing", "the", "!", "cafe"]))
    tok = WordPieceTokenizer(vocab)
    assert tok.encode("Playing the CAFÉ!") == [2, 4, 5, 6, 8, 7, 3]
    assert tok.encode("zzz") == [2, 1, 3]
