"""EventBridge Scheduler, locally: the ``reminder`` plugin's one-time schedules fired when they are due.

moto's server keeps the schedules the plugin creates but never runs them. :class:`ReminderScheduler` does what
the scheduler would, every ``interval`` seconds: it lists the schedules, and each enabled ``at(...)`` schedule
whose time has come (in its ``ScheduleExpressionTimezone``) is handed to its target function as an asynchronous
invoke with the target's ``Input`` (the runtime's AsyncInvoker adds Lambda's retries and the OnFailure
destination), then deleted (``ActionAfterCompletion: DELETE``; a schedule kept with ``NONE`` is remembered, so it
fires once). Targets are matched by function name, as Lambda ARNs name them.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

AT_EXPRESSION = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")


class Submitter(Protocol):
    def submit(self, event: dict[str, Any]) -> str: ...


def due_at(schedule: Mapping[str, Any]) -> datetime | None:
    """When a one-time schedule is due (aware), or None for any other expression."""
    found = AT_EXPRESSION.match(str(schedule.get("ScheduleExpression", "")))
    if found is None:
        return None
    zone = ZoneInfo(str(schedule.get("ScheduleExpressionTimezone") or "UTC"))
    return datetime.fromisoformat(found.group(1)).replace(tzinfo=zone)


def function_name(arn: str) -> str:
    """``arn:aws:lambda:region:account:function:NAME[:qualifier]`` -> NAME ('' for any other target)."""
    parts = arn.split(":")
    return parts[6] if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function" else ""


class ReminderScheduler:
    def __init__(
        self,
        scheduler: Any,
        targets: Mapping[str, Submitter],
        *,
        log: Callable[[str], None] = print,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``targets``: function name -> where its asynchronous invokes go."""
        self._scheduler = scheduler
        self._targets = targets
        self._log = log
        self._clock = clock
        self._fired: set[tuple[str, str]] = set()

    def fire_due(self) -> int:
        """Fire every schedule due now; returns how many were fired."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        fired = 0
        for summary in self._scheduler.list_schedules(State="ENABLED").get("Schedules", []):
            key = (str(summary.get("GroupName") or "default"), str(summary["Name"]))
            if key in self._fired:
                continue
            schedule = self._scheduler.get_schedule(GroupName=key[0], Name=key[1])
            when = due_at(schedule)
            if when is None or when > now:
                continue
            target = schedule.get("Target") or {}
            name = function_name(str(target.get("Arn", "")))
            submitter = self._targets.get(name)
            if submitter is None:
                self._log(f"Schedule {key[1]}: no local function {name or target.get('Arn')!r}; not fired")
                self._fired.add(key)
                continue
            submitter.submit(json.loads(str(target.get("Input") or "{}")))
            self._fired.add(key)
            fired += 1
            self._log(f"Schedule {key[1]} fired -> {name}")
            if schedule.get("ActionAfterCompletion") == "DELETE":
                self._scheduler.delete_schedule(GroupName=key[0], Name=key[1])
                self._fired.discard(key)
        return fired

    async def run(self, interval: float) -> None:
        """Fire due schedules every ``interval`` seconds until cancelled; a failed round is logged, not fatal."""
        while True:
            try:
                await asyncio.to_thread(self.fire_due)
            except Exception as exc:  # noqa: BLE001 - moto restarting, a malformed schedule: try again next round
                self._log(f"Scheduler round failed: {type(exc).__name__}: {exc}")
            await asyncio.sleep(interval)
