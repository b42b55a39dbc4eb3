"""Opening hours per weekday in the business's own time zone, with holidays; out of hours it answers with a
message (and, with ``block: true``, ends the turn there), so the bot does not promise what nobody can do now.

Every turn gets ``plugins.business_hours.open`` (true/false) and ``next_open`` (ISO time, local), so rules can
choose ("we'll call you back at 9:00") even when ``block`` is false. The clock is the engine's (``ctx.now``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from clawline.plugins.base import PluginResult, TurnContext

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_MESSAGE = "We're closed right now. We open again {next_open}."


def _span(text: str) -> tuple[time, time]:
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"{text!r}: write opening hours as HH:MM-HH:MM")
    opens, closes = time.fromisoformat(start.strip()), time.fromisoformat(end.strip())
    if closes <= opens and closes != time(0):
        raise ValueError(f"{text!r}: closes before it opens (split a span that crosses midnight in two)")
    return opens, closes


class BusinessHoursPlugin:
    name: ClassVar[str] = "business_hours"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        timezone: str = "UTC"
        #: Weekday (mon..sun) -> opening spans "HH:MM-HH:MM" (a missing day is closed; "24:00" is written "00:00").
        hours: dict[str, list[str]] = Field(default_factory=dict)
        #: Closed all day (ISO dates, local).
        holidays: list[date] = []
        #: Sent out of hours; ``{next_open}`` is the next opening time ("Monday 09:00").
        message: str = DEFAULT_MESSAGE
        #: Out of hours, end the turn after the message (false: only tell the rules, through plugin data).
        block: bool = True

        @field_validator("timezone")
        @classmethod
        def _zone(cls, value: str) -> str:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
            return value

        @field_validator("hours")
        @classmethod
        def _hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
            for day, spans in value.items():
                if day not in DAYS:
                    raise ValueError(f"{day!r} is not a weekday ({', '.join(DAYS)})")
                for span in spans:
                    _span(span)
            return value

    def __init__(self, config: BusinessHoursPlugin.Config) -> None:
        self.config = config
        self.zone = ZoneInfo(config.timezone)
        self.spans = {DAYS.index(d): [_span(s) for s in spans] for d, spans in config.hours.items()}
        self.holidays = frozenset(config.holidays)

    async def setup(self) -> None:
        return None

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        if local.date() in self.holidays:
            return False
        now = local.time().replace(tzinfo=None)
        return any(opens <= now < closes or (closes == time(0) and now >= opens) for opens, closes in self._day(local))

    def next_open(self, moment: datetime) -> datetime | None:
        local = moment.astimezone(self.zone)
        for offset in range(0, 8 + len(self.holidays)):
            day = local.date() + timedelta(days=offset)
            if day in self.holidays:
                continue
            for opens, _ in sorted(self.spans.get(day.weekday(), [])):
                candidate = datetime.combine(day, opens, tzinfo=self.zone)
                if candidate > local:
                    return candidate
        return None

    def _day(self, local: datetime) -> list[tuple[time, time]]:
        return self.spans.get(local.weekday(), [])

    async def before_nlu(self, ctx: TurnContext) -> PluginResult:
        if self.is_open(ctx.now):
            return PluginResult(data={"open": True, "next_open": None})
        upcoming = self.next_open(ctx.now)
        data = {"open": False, "next_open": upcoming.isoformat() if upcoming else None}
        if not self.config.block:
            return PluginResult(data=data)
        when = upcoming.strftime("%A %H:%M") if upcoming else "soon"
        return PluginResult(data=data, replies=[self.config.message.format(next_open=when)], stop=True)
