"""Opening hours in the business's time zone: inside them the bot answers, outside (or on a holiday) the plugin does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.unit.engine.helpers import make_engine, say

BOT = """
name: support
plugins:
  - module: plugins.business_hours
    class: BusinessHoursPlugin
    config:
      timezone: Europe/Paris
      hours: {mon: ["09:00-12:30", "13:30-18:00"], fri: ["09:00-17:00"]}
      holidays: ["2026-12-25"]
      message: "Closed. Back {next_open}."
rules:
  - {name: hi, when: "true", then: [{reply: hello}]}
"""


def at(tmp_path, when: datetime):
    return make_engine(tmp_path / "bot", BOT, now=when)


@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 11, 30, 8, 0, tzinfo=UTC),  # Monday 09:00 in Paris (UTC+1)
        datetime(2026, 11, 30, 16, 59, tzinfo=UTC),  # Monday 17:59
        datetime(2026, 6, 1, 7, 0, tzinfo=UTC),  # Monday 09:00 in summer time (UTC+2)
    ],
)
def test_inside_opening_hours_the_bot_answers(tmp_path, when):
    assert say(at(tmp_path, when), "hi").texts == ["Hello!"]


@pytest.mark.parametrize(
    ("when", "back"),
    [
        (datetime(2026, 11, 30, 11, 45, tzinfo=UTC), "Monday 13:30"),  # lunch break, 12:45 in Paris
        (datetime(2026, 11, 30, 17, 0, tzinfo=UTC), "Friday 09:00"),  # 18:00 Monday: closed until Friday
        (datetime(2026, 6, 1, 6, 30, tzinfo=UTC), "Monday 09:00"),  # 08:30 summer time
        (datetime(2026, 12, 25, 10, 0, tzinfo=UTC), "Monday 09:00"),  # a Friday, but a holiday
    ],
)
def test_out_of_hours_the_plugin_answers_with_the_next_opening(tmp_path, when, back):
    reply = say(at(tmp_path, when), "hi")
    assert reply.texts == [f"Closed. Back {back}."]
    assert reply.trace == ["plugin:business_hours"]


def test_with_block_false_rules_decide_from_the_plugin_data(tmp_path):
    text = BOT.replace('message: "Closed. Back {next_open}."', "block: false").replace(
        '{name: hi, when: "true", then: [{reply: hello}]}',
        "{name: closed, when: '!plugins.business_hours.open', then: [{reply: closed}]}\n"
        '  - {name: hi, when: "true", then: [{reply: hello}]}',
    )
    text += 'responses:\n  closed: ["We\'re closed, leave a message."]\n'
    engine = make_engine(tmp_path / "bot", text, now=datetime(2026, 11, 29, 10, 0, tzinfo=UTC))  # Sunday
    assert say(engine, "hi").texts == ["We're closed, leave a message."]


def test_a_bad_time_zone_or_span_is_a_load_error(tmp_path):
    from clawline.bot.compiled import Bot
    from clawline.bot.loader import BotDefinitionError
    from tests.unit.engine.helpers import write_bot

    for bad, expected in [("timezone: Mars/Base", "unknown time zone"), ('hours: {mon: ["18:00-09:00"]}', "closes")]:
        spec = f"{{module: plugins.business_hours, class: BusinessHoursPlugin, config: {{{bad}}}}}"
        text = f"name: x\nplugins:\n  - {spec}\n"
        with pytest.raises(BotDefinitionError, match=expected):
            Bot.load(write_bot(tmp_path / "bot", text))
