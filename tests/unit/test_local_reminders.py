"""The local scheduler's reading of a schedule: when an ``at()`` schedule is due, and which function it targets
(firing them against moto's Scheduler is tests/e2e/test_reminders.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from local.reminders import due_at, function_name


def test_an_at_schedule_is_due_at_its_time_in_its_time_zone() -> None:
    when = due_at({"ScheduleExpression": "at(2026-11-27T11:00:00)", "ScheduleExpressionTimezone": "Europe/Paris"})
    assert when == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert due_at({"ScheduleExpression": "at(2026-11-27T11:00:00)"}) == datetime(2026, 11, 27, 11, 0, tzinfo=UTC)


def test_recurring_schedules_are_not_one_time_reminders() -> None:
    assert due_at({"ScheduleExpression": "rate(5 minutes)"}) is None
    assert due_at({"ScheduleExpression": "cron(0 9 * * ? *)"}) is None


def test_the_target_function_is_named_by_its_arn() -> None:
    assert function_name("arn:aws:lambda:us-east-1:123456789012:function:clawline-reminder-dev") == (
        "clawline-reminder-dev"
    )
    assert function_name("arn:aws:lambda:us-east-1:123456789012:function:clawline-reminder-dev:live") == (
        "clawline-reminder-dev"
    )
    assert function_name("arn:aws:sqs:us-east-1:123456789012:queue") == ""
