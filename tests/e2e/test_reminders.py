"""Reminders on the local runtime: a due one-time schedule in moto's EventBridge Scheduler (shaped as the reminder
plugin creates it) is fired by the runtime's scheduler loop, and the reminder function delivers it: a real
WebSocket client and a paho-mqtt device receive it, an HTTP client reads it in the history."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from local import template as tpl
from local.runtime import Runtime
from tests.e2e.conftest import Device, Http, WsClient, aws, texts, unique, wait_for

GROUP = "clawline-reminders-dev"


def schedule(rt: Runtime, *, channel: str, user: str, conversation_id: str, text: str) -> str:
    """A due schedule, as plugins/reminder writes it (name, at() expression, target input, delete after)."""
    name = "clawline-" + uuid.uuid4().hex[:40]
    function = tpl.functions(rt.template)["ReminderFunction"]
    due = datetime.now(UTC) - timedelta(seconds=1)
    event = {
        "type": "clawline.reminder",
        "schedule": name,
        "bot": "default",
        "channel": channel,
        "conversation_id": conversation_id,
        "user": user,
        "text": text,
        "reply_topic": f"clawline/{user}/out" if channel == "mqtt" else None,
        "due": due.isoformat(),
    }
    aws(rt, "scheduler").create_schedule(
        Name=name,
        GroupName=GROUP,
        ScheduleExpression=f"at({due.replace(tzinfo=None).isoformat(timespec='seconds')})",
        ScheduleExpressionTimezone="UTC",
        FlexibleTimeWindow={"Mode": "OFF"},
        ActionAfterCompletion="DELETE",
        Target={"Arn": function.arn, "RoleArn": "arn:aws:iam::123456789012:role/scheduler", "Input": json.dumps(event)},
    )
    return name


def pending(rt: Runtime) -> set[str]:
    return {s["Name"] for s in aws(rt, "scheduler").list_schedules(GroupName=GROUP)["Schedules"]}


def test_a_websocket_client_receives_its_due_reminder_and_the_schedule_deletes_itself(runtime: Runtime) -> None:
    sub = unique("rem-ws")
    ws = WsClient(runtime, runtime.token(sub))
    try:
        reply = ws.say("hi", conversation_id="c-rem")  # the conversation exists already: the reminder follows it
        assert reply["type"] == "reply"
        name = schedule(runtime, channel="websocket", user=sub, conversation_id="c-rem", text="Reminder: stretch")
        frame = ws.recv()
    finally:
        ws.close()
    assert frame["type"] == "reply"
    assert texts(frame) == ["Reminder: stretch"]
    assert frame["actions"][0]["type"] == "reminder"
    wait_for(lambda: name not in pending(runtime), what="the fired schedule to be deleted")
    turns = Http(runtime, sub).history("c-rem")
    assert [(t["user_text"], t["bot_texts"]) for t in turns][-1] == ("", ["Reminder: stretch"])
    assert len(turns) == 2


def test_a_device_receives_its_due_reminder_on_its_reply_topic(runtime: Runtime) -> None:
    thing = unique("rem-dev")
    device = Device(runtime, thing)
    try:
        device.say("hi", "m-1", conversation_id=thing)  # the conversation the reminder was set in
        schedule(runtime, channel="mqtt", user=thing, conversation_id=thing, text="Reminder: descale")
        message: dict[str, Any] = device.recv()
    finally:
        device.close()
    assert message["type"] == "reply"
    assert texts(message) == ["Reminder: descale"]


def test_an_http_client_finds_its_due_reminder_in_the_history(runtime: Runtime) -> None:
    sub = unique("rem-http")
    http = Http(runtime, sub)
    http.say("hi", "c-http")
    schedule(runtime, channel="http", user=sub, conversation_id="c-http", text="Reminder: renew the permit")
    turns = wait_for(lambda: [t for t in http.history("c-http") if t["bot_texts"] == ["Reminder: renew the permit"]])
    (turn,) = turns
    assert turn["user_text"] == "" and turn["message_id"].startswith("reminder:clawline-")
