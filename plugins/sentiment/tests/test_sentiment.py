"""Sentiment from Amazon Comprehend (botocore Stubber, documented response shape) sets the slot and escalates."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from clawline import aws
from tests.unit.engine.helpers import make_engine, say

BOT = """
name: support
slots:
  mood: {type: any}
plugins:
  - module: plugins.sentiment
    class: SentimentPlugin
    config: {slot: mood, escalate_at: 0.9, queue: care, escalation_reply: "Let me get a colleague."}
rules:
  - {name: mood, when: "true", then: [{reply: mood}]}
responses:
  mood: ["Noted ({slots.mood})."]
"""


def detected(sentiment: str, negative: float) -> dict[str, object]:
    rest = round((1 - negative) / 3, 4)
    return {
        "Sentiment": sentiment,
        "SentimentScore": {"Positive": rest, "Negative": negative, "Neutral": rest, "Mixed": rest},
    }


@pytest.fixture
def comprehend(aws_env: None) -> Iterator[Stubber]:
    with Stubber(aws.client("comprehend")) as stub:
        yield stub
        stub.assert_no_pending_responses()


def test_the_sentiment_lands_in_the_slot(tmp_path, comprehend):
    comprehend.add_response(
        "detect_sentiment", detected("POSITIVE", 0.01), {"Text": "I love the new app", "LanguageCode": "en"}
    )
    engine = make_engine(tmp_path / "bot", BOT)
    reply = say(engine, "I love the new app")
    assert reply.texts == ["Noted (POSITIVE)."]
    assert reply.slots == {"mood": "POSITIVE"}
    assert reply.actions == []


def test_a_strongly_negative_message_escalates_to_a_human(tmp_path, comprehend):
    expected = {"Text": "This is useless, I am furious", "LanguageCode": "en"}
    comprehend.add_response("detect_sentiment", detected("NEGATIVE", 0.97), expected)
    engine = make_engine(tmp_path / "bot", BOT)
    reply = say(engine, "This is useless, I am furious")
    assert reply.texts == ["Let me get a colleague."]
    handoff = ("handoff", {"queue": "care", "reason": "negative_sentiment"})
    assert [(a.type, a.params) for a in reply.actions] == [handoff]


def test_short_messages_cost_nothing(tmp_path, comprehend):
    engine = make_engine(tmp_path / "bot", BOT)
    assert say(engine, "ok").texts == ["Noted ()."]


def test_comprehend_failing_skips_the_plugin_and_the_turn_is_answered(tmp_path, comprehend):
    comprehend.add_client_error("detect_sentiment", "ThrottlingException", http_status_code=400)
    engine = make_engine(tmp_path / "bot", BOT)
    assert say(engine, "what a day this has been").texts == ["Noted ()."]
