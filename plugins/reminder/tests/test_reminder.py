"""Reminders become one-time EventBridge Scheduler schedules (moto's server) carrying the delivery event."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from clawline import aws
from tests.unit.engine.helpers import make_engine, say

BOT = """
name: assistant
plugins:
  - module: plugins.reminder
    class: ReminderPlugin
    config:
      target_arn: "arn:aws:lambda:us-east-1:123456789012:function:clawline-reminders"
      role_arn: "arn:aws:iam::123456789012:role/clawline-scheduler"
      timezone: Europe/Paris
rules:
  - {name: remind, when: text.contains("remind"), then: [{plugin: {name: reminder, params: {in_minutes: 30}}}]}
"""
NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)  # 10:30 in Paris


def test_a_reminder_is_a_one_time_schedule_carrying_the_delivery_event(tmp_path, moto):
    engine = make_engine(tmp_path / "bot", BOT, now=NOW)
    reply = say(engine, "remind me to call the bank", channel="mqtt", sender="kitchen-display")
    assert reply.texts == ["OK, I'll remind you on Friday 27 November at 11:00."]
    [summary] = aws.client("scheduler").list_schedules()["Schedules"]
    schedule = aws.client("scheduler").get_schedule(Name=summary["Name"], GroupName="default")
    assert schedule["ScheduleExpression"] == "at(2026-11-27T11:00:00)"
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    event = json.loads(schedule["Target"]["Input"])
    # The delivery function keys its exactly-once write on the schedule's name, which the event carries.
    assert event["schedule"] == summary["Name"]
    assert event["text"] == "Reminder: remind me to call the bank"
    assert (event["channel"], event["user"]) == ("mqtt", "kitchen-display")
    assert event["reply_topic"] == "clawline/kitchen-display/out"
    aws.client("scheduler").delete_schedule(Name=summary["Name"], GroupName="default")


DELIVERED_BOT = BOT.replace(
    "      timezone: Europe/Paris\n",
    "      timezone: Europe/Paris\n"
    "      group: clawline-reminders-dev\n"
    '      dead_letter_arn: "arn:aws:sqs:us-east-1:123456789012:clawline-dead-letters-dev"\n',
)


def test_the_schedule_retries_then_dead_letters_and_its_event_is_what_the_delivery_function_parses(tmp_path, moto):
    from clawline.channels.reminders import parse_event

    scheduler = aws.client("scheduler")
    scheduler.create_schedule_group(Name="clawline-reminders-dev")
    engine = make_engine(tmp_path / "bot", DELIVERED_BOT, now=NOW)
    say(engine, "remind me to water the plants", channel="websocket", sender="alice")
    [summary] = scheduler.list_schedules(GroupName="clawline-reminders-dev")["Schedules"]
    schedule = scheduler.get_schedule(Name=summary["Name"], GroupName="clawline-reminders-dev")
    target = schedule["Target"]
    assert target["DeadLetterConfig"] == {"Arn": "arn:aws:sqs:us-east-1:123456789012:clawline-dead-letters-dev"}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 3600}
    event = parse_event(json.loads(target["Input"]))
    assert (event.channel.value, event.user, event.reply_topic) == ("websocket", "alice", None)
    assert event.message_id == f"reminder:{summary['Name']}"
    scheduler.delete_schedule(Name=summary["Name"], GroupName="clawline-reminders-dev")
    scheduler.delete_schedule_group(Name="clawline-reminders-dev")
