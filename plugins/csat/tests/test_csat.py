"""CSAT: asked at the end, the rating becomes a CsatScore metric value; anything else goes on to the rules."""

from __future__ import annotations

import json

import pytest

from clawline.observability import metrics
from plugins.csat.plugin import rating
from tests.unit.engine.helpers import make_engine, say

BOT = """
name: support
slots:
  csat_pending: {type: bool}
plugins:
  - {module: plugins.csat, class: CsatPlugin, config: {scale: 5}}
rules:
  - {name: bye, when: text.contains("bye"), then: [{reply: bye}, {plugin: csat}]}
  - {name: hi, when: "true", then: [{reply: hello}]}
responses:
  bye: ["Goodbye!"]
"""


def csat_values(capsys: pytest.CaptureFixture[str]) -> list[float]:
    metrics.flush_metrics()
    values: list[float] = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and '"CsatScore"' in line:
            value = json.loads(line)["CsatScore"]
            values.extend(value if isinstance(value, list) else [value])
    return values


def test_the_rating_is_recorded_and_thanked(tmp_path, capsys):
    engine = make_engine(tmp_path / "bot", BOT)
    assert say(engine, "bye").texts == ["Goodbye!", "Before you go: how would you rate this conversation, from 1 to 5?"]
    csat_values(capsys)
    reply = say(engine, "4/5")
    assert reply.texts == ["Thank you for your feedback!"]
    assert reply.slots == {"csat_pending": False}
    assert csat_values(capsys) == [4.0]


def test_a_message_that_is_not_a_rating_goes_on_to_the_rules(tmp_path, capsys):
    engine = make_engine(tmp_path / "bot", BOT)
    say(engine, "bye")
    csat_values(capsys)
    assert say(engine, "actually, one more question").texts == ["Hello!"]
    assert csat_values(capsys) == []
    assert say(engine, "4").texts == ["Hello!"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5", 5), ("4 / 5", 4), ("Four!", 4), ("***", 3), ("3 stars", 3), ("6", None), ("0", None), ("I'd say 4", None)],
)
def test_ratings_are_read_in_the_forms_people_type(text, expected):
    assert rating(text, 5) == expected
