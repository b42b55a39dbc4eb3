"""Translate (Stubber): a French message reaches the rules in English and the reply goes back in French."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.stub import Stubber

from clawline import aws
from clawline.store.memory import InMemoryConversationStore
from tests.unit.engine.helpers import make_engine, say

BOT = """
name: travel
slots:
  lang: {type: any}
plugins:
  - {module: plugins.translate, class: TranslatePlugin, config: {bot_language: en, slot: lang}}
rules:
  - {name: hours, when: text.contains("open"), then: [{reply: hours}]}
responses:
  hours: ["We are open from 9 to 5."]
"""


@pytest.fixture
def translate(aws_env: None) -> Iterator[Stubber]:
    with Stubber(aws.client("translate")) as stub:
        yield stub
        stub.assert_no_pending_responses()


def translated(text: str, source: str, target: str) -> dict[str, str]:
    return {"TranslatedText": text, "SourceLanguageCode": source, "TargetLanguageCode": target}


def test_a_french_user_gets_the_rules_answer_in_french_and_storage_keeps_both_sides(tmp_path, translate):
    translate.add_response(
        "translate_text",
        translated("When are you open?", "fr", "en"),
        {"Text": "Quand êtes-vous ouverts ?", "SourceLanguageCode": "auto", "TargetLanguageCode": "en"},
    )
    translate.add_response(
        "translate_text",
        translated("Nous sommes ouverts de 9 h à 17 h.", "en", "fr"),
        {"Text": "We are open from 9 to 5.", "SourceLanguageCode": "en", "TargetLanguageCode": "fr"},
    )
    store = InMemoryConversationStore()
    engine = make_engine(tmp_path / "bot", BOT, store=store)
    reply = say(engine, "Quand êtes-vous ouverts ?")
    assert reply.texts == ["Nous sommes ouverts de 9 h à 17 h."]
    assert reply.slots == {"lang": "fr"}
    assert reply.trace == ["hours"]
    [turn] = store.list_turns("c1", "u1").turns
    assert turn.bot_texts == ["Nous sommes ouverts de 9 h à 17 h."]


def test_the_bots_own_language_costs_one_request_and_is_not_translated_back(tmp_path, translate):
    translate.add_response(
        "translate_text",
        translated("When are you open?", "en", "en"),
        {"Text": "When are you open?", "SourceLanguageCode": "auto", "TargetLanguageCode": "en"},
    )
    engine = make_engine(tmp_path / "bot", BOT)
    assert say(engine, "When are you open?").texts == ["We are open from 9 to 5."]


def test_translate_failing_answers_untranslated_not_a_lost_turn(tmp_path, translate):
    translate.add_client_error("translate_text", "ServiceUnavailableException", http_status_code=503)
    text = BOT.replace("name: travel", "name: travel\nsettings: {plugin_timeout_ms: 300}")
    engine = make_engine(tmp_path / "bot", text)
    assert say(engine, "is it open today").texts == ["We are open from 9 to 5."]
