"""Moderation refuses or masks blocked words and refuses what Comprehend (Stubber) scores as toxic."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from clawline import aws
from clawline.store.memory import InMemoryConversationStore
from tests.unit.engine.helpers import make_engine, say

BOT = """
name: community
plugins:
  - module: plugins.moderation
    class: ModerationPlugin
    config: {block_list: [darn, "heck"], mode: MODE, toxicity: TOXICITY, reason: "Please keep it civil."}
rules:
  - {name: echo, when: "true", then: [{reply: echo}]}
responses:
  echo: ["You said: {text}"]
"""


def bot(mode: str = "refuse", toxicity: bool = False) -> str:
    return BOT.replace("MODE", mode).replace("TOXICITY", str(toxicity).lower())


@pytest.fixture
def comprehend(aws_env: None) -> Iterator[Stubber]:
    with Stubber(aws.client("comprehend")) as stub:
        yield stub
        stub.assert_no_pending_responses()


def toxic(score: float) -> dict[str, object]:
    return {
        "ResultList": [
            {"Labels": [{"Name": "INSULT", "Score": score}, {"Name": "PROFANITY", "Score": 0.1}], "Toxicity": score}
        ]
    }


def test_refuse_mode_refuses_a_blocked_word_in_any_case(tmp_path):
    engine = make_engine(tmp_path / "bot", bot())
    reply = say(engine, "DARN this thing")
    assert reply.texts == ["Please keep it civil."]
    assert [a.type for a in reply.actions] == ["reject"]
    assert say(engine, "darnation is a word").texts == ["You said: darnation is a word"]


def test_mask_mode_hides_blocked_words_from_rules_and_storage(tmp_path):
    store = InMemoryConversationStore()
    engine = make_engine(tmp_path / "bot", bot("mask"), store=store)
    assert say(engine, "what the heck is this").texts == ["You said: what the **** is this"]
    assert store.list_turns("c1", "u1").turns[0].user_text == "what the **** is this"


def test_toxic_content_is_refused_and_clean_content_passes(tmp_path, comprehend):
    comprehend.add_response(
        "detect_toxic_content", toxic(0.93), {"TextSegments": [{"Text": "you are an idiot"}], "LanguageCode": "en"}
    )
    comprehend.add_response(
        "detect_toxic_content", toxic(0.02), {"TextSegments": [{"Text": "you are helpful"}], "LanguageCode": "en"}
    )
    engine = make_engine(tmp_path / "bot", bot(toxicity=True))
    assert say(engine, "you are an idiot").texts == ["Please keep it civil."]
    assert say(engine, "you are helpful").texts == ["You said: you are helpful"]


def test_the_block_list_refuses_before_any_paid_call(tmp_path, comprehend):
    engine = make_engine(tmp_path / "bot", bot(toxicity=True))
    assert say(engine, "heck no").texts == ["Please keep it civil."]
