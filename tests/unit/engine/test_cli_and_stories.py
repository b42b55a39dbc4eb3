"""The clawline command line (validate, test, chat, import-rasa) and the story runner's verdicts."""

from __future__ import annotations

import asyncio
import io
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from clawline.bot.compiled import Bot
from clawline.bot.rasa import import_rasa, strip_annotations
from clawline.cli import main
from clawline.cli.bot import chat_command, register
from clawline.stories.models import Step, Story
from clawline.stories.runner import Observed, StoryResult, check_step

from .helpers import BASE, write_bot

DEFAULT_BOT = str(Path(__file__).resolve().parents[3] / "bots" / "default")
BOT = (
    BASE
    + """
intents:
  greet: {examples: [hi, hello, hey]}
rules:
  - {name: greet, when: 'intent == "greet"', then: [{reply: hello}]}
"""
)


def test_validate_accepts_a_good_bot(tmp_path, capsys):
    assert main(["validate", str(write_bot(tmp_path, BOT))]) == 0
    assert "ok: bot 'testbot' (hybrid mode): 1 intents" in capsys.readouterr().out


def test_validate_prints_each_problem_and_fails(tmp_path, capsys):
    assert main(["validate", str(write_bot(tmp_path, BOT.replace("{reply: hello}", "{reply: hullo}")))]) == 1
    err = capsys.readouterr().err
    assert "bot.yaml:8: rules[0].then[0].reply: unknown response 'hullo'" in err


def test_the_default_bot_validates(capsys):
    assert main(["validate", DEFAULT_BOT]) == 0


def test_test_command_runs_stories_and_writes_junit(tmp_path, capsys):
    bot = write_bot(tmp_path / "bot", BOT)
    stories = tmp_path / "stories.yaml"
    stories.write_text(
        textwrap.dedent(
            """
            stories:
              - name: greets
                steps:
                  - {user: hi, intent: greet, bot: Hello!}
              - name: wrong on purpose
                steps:
                  - {user: hi, bot: Bonjour!}
            """
        ),
        encoding="utf-8",
    )
    junit = tmp_path / "out" / "junit.xml"
    assert main(["test", str(bot), "--stories", str(stories), "--junit", str(junit)]) == 1
    out = capsys.readouterr().out
    assert "PASS  greets" in out
    assert "FAIL  wrong on purpose" in out
    assert "1 passed, 1 failed" in out
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    failed = [c for c in suite.iter("testcase") if c.find("failure") is not None]
    assert [c.get("name") for c in failed] == ["wrong on purpose"]


def test_a_malformed_story_file_names_file_and_line(tmp_path, capsys):
    stories = tmp_path / "bad.yaml"
    stories.write_text("stories:\n  - name: x\n    steps:\n      - {usr: hi}\n", encoding="utf-8")
    assert main(["test", str(write_bot(tmp_path / "bot", BOT)), "--stories", str(stories)]) == 1
    assert f"{stories}:4: stories[0].steps[0].usr" in capsys.readouterr().err


def test_chat_talks_with_the_bot_through_stdin_and_stdout(tmp_path):
    import argparse

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["chat", str(write_bot(tmp_path, BOT)), "--debug"])
    out = io.StringIO()
    assert chat_command(args, stdin=io.StringIO("hello\n/quit\nnever read\n"), stdout=out) == 0
    lines = out.getvalue().splitlines()
    assert "bot> Hello!" in lines
    assert any("intent=greet" in line for line in lines)
    assert not any("never read" in line for line in lines)


RASA = """
version: "3.1"
nlu:
- intent: order
  examples: |
    - i want a [large](size) pizza
    - a [big]{"entity": "size", "value": "large"} one please
    - [small](size) please
- intent: ask/faq
  examples: |
    - what are your hours
- synonym: large
  examples: |
    - huge
- lookup: size
  examples: |
    - medium
- regex: order_number
  examples: |
    - \\#[0-9]{4}
"""


def test_rasa_annotations_are_stripped_and_collected():
    text, found = strip_annotations('a [big]{"entity": "size", "value": "large"} and [two](count) pizzas')
    assert text == "a big and two pizzas"
    assert found == [("size", "big", "large"), ("count", "two", "two")]


def test_import_rasa_produces_a_definition_the_bot_loader_accepts(tmp_path, capsys):
    nlu = tmp_path / "nlu.yml"
    nlu.write_text(RASA, encoding="utf-8")
    out = tmp_path / "bot" / "imported.yaml"
    out.parent.mkdir()
    assert main(["import-rasa", str(nlu), "--out", str(out)]) == 0
    assert "intent 'ask/faq' renamed to 'ask_faq'" in capsys.readouterr().err
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["intents"]["order"]["examples"][1] == "a big one please"
    assert data["entities"]["size"] == {
        "lookup": ["large", "medium", "small"],
        "synonyms": {"large": ["big", "huge"]},
    }
    assert data["entities"]["order_number"] == {"regex": ["\\#[0-9]{4}"]}
    (out.parent / "bot.yaml").write_text(
        "name: imported\nsettings: {include: [imported.yaml]}\nresponses:\n  fallback: [x]\n", encoding="utf-8"
    )
    bot = Bot.load(out.parent)
    assert sorted(bot.definition.intents) == ["ask_faq", "order"]


def test_import_rasa_refuses_a_file_that_is_not_rasa_nlu(tmp_path):
    other = tmp_path / "x.yml"
    other.write_text("stories: []\n", encoding="utf-8")
    with pytest.raises(Exception, match="not a Rasa NLU file"):
        import_rasa(other)


def check(step: Step, got: Observed, target: str = "engine") -> StoryResult:
    result = StoryResult(Story(name="s", steps=[step]), target)
    check_step(result, 1, step, got)
    return result


def test_story_checks_report_each_mismatch():
    step = Step(user="hi", intent="greet", bot=["Hello!"], slots={"a": 1}, actions=["handoff"], rules=["greet"])
    good = Observed(texts=["Hello!"], intent="greet", slots={"a": 1, "b": 2}, actions=["handoff"], trace=["greet"])
    assert check(step, good).passed
    bad = Observed(texts=["Hey"], intent="bye", slots={"a": 2}, actions=[], trace=[])
    assert len(check(step, bad).failures) == 5


def test_an_expectation_a_channel_cannot_observe_is_skipped_not_passed():
    step = Step(user="hi", intent="greet", slots={"a": 1})
    result = check(step, Observed(texts=["Hello!"], intent=None, intent_known=False), target="http")
    assert result.failures == []
    assert len(result.skipped) == 2


def test_intent_null_expects_an_out_of_scope_message():
    step = Step.model_validate({"user": "x", "intent": None})
    assert check(step, Observed(texts=[], intent="greet")).failures
    assert check(step, Observed(texts=[], intent=None)).passed


def test_stories_run_against_the_engine_target(tmp_path):
    from clawline.engine import load_engine
    from clawline.store.memory import InMemoryConversationStore
    from clawline.stories.runner import EngineTarget, run_stories

    engine = load_engine(write_bot(tmp_path, BOT), InMemoryConversationStore())
    story = Story(name="s", channel="mqtt", steps=[Step(user="hey", intent="greet", bot="Hello!")])
    [result] = asyncio.run(run_stories(EngineTarget(engine), [story]))
    assert result.passed


def test_empty_slots_expectation_means_no_slot_is_set():
    step = Step(user="x", slots={})
    assert check(step, Observed(texts=[], slots={})).passed
    assert not check(step, Observed(texts=[], slots={"size": "large"})).passed
