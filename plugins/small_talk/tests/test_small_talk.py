"""Small talk answers chit-chat before NLU and leaves everything else to the bot's rules."""

from __future__ import annotations

import pytest

from tests.unit.engine.helpers import ScriptedNlu, make_engine, say

BOT = """
name: shop
plugins:
  - module: plugins.small_talk
    class: SmallTalkPlugin
    config:
      topics: [greeting, thanks, are_you_a_bot]
      answers: {greeting: ["Welcome to the shop!"]}
intents:
  cancel: {examples: [cancel my order]}
responses:
  cancelled: [Order cancelled.]
rules:
  - {name: cancel, when: 'intent == "cancel"', then: [{reply: cancelled}]}
"""


@pytest.fixture
def engine(tmp_path):
    nlu = ScriptedNlu({"hi, i want to cancel my order": ("cancel", 0.9)})
    return make_engine(tmp_path / "bot", BOT, nlu=nlu), nlu


@pytest.mark.parametrize(
    ("text", "answer"),
    [("Hi!", "Welcome to the shop!"), ("thank you very much", "You're welcome!"), ("Are you a bot?", "I'm a bot")],
)
def test_a_small_talk_message_is_answered_before_nlu_and_ends_the_turn(engine, text, answer):
    bot, nlu = engine
    reply = say(bot, text)
    assert len(reply.texts) == 1 and reply.texts[0].startswith(answer)
    assert nlu.calls == []
    assert reply.trace == ["plugin:small_talk"]


def test_a_message_with_more_than_small_talk_goes_to_the_rules(engine):
    bot, _ = engine
    assert say(bot, "Hi, I want to cancel my order").texts == ["Order cancelled."]


def test_a_topic_not_enabled_is_not_answered(engine):
    bot, _ = engine
    assert say(bot, "goodbye").texts == ["Sorry?"]


def test_an_unknown_topic_is_a_load_error(tmp_path):
    from clawline.bot.compiled import Bot
    from clawline.bot.loader import BotDefinitionError
    from tests.unit.engine.helpers import write_bot

    text = "name: x\nplugins:\n  - {module: plugins.small_talk, class: SmallTalkPlugin, config: {topics: [weather]}}\n"
    with pytest.raises(BotDefinitionError, match=r"invalid config: topics\.0: must be one of"):
        Bot.load(write_bot(tmp_path / "bot", text))
