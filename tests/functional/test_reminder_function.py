"""The reminder function invoked with the schedule's input, against moto's DynamoDB and SQS and a loopback
@connections / iot-data recorder: the reminder lands in the conversation once and reaches the user's channel."""

from __future__ import annotations

import json
from typing import Any

import pytest

import reminder_handler
import websocket_handler
from clawline import composition
from clawline.conversation import Turn
from clawline.messages import Channel
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context


@pytest.fixture(autouse=True)
def websocket_endpoint(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    # What the template sets; the recorder answers instead (AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI wins).
    monkeypatch.setenv("CLAWLINE_WEBSOCKET_ENDPOINT", "https://abc123.execute-api.us-east-1.amazonaws.com/dev")
    composition.reset()


def deliver(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    result: dict[str, Any] = reminder_handler.handler(event, context or lambda_context("clawline-reminder"))
    return result


def connect(connection_id: str, sub: str = "user-123") -> None:
    event = load_event("websocket/connect.json")
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["authorizer"].update({"principalId": sub, "sub": sub})
    assert websocket_handler.handler(event, lambda_context("clawline-websocket")) == {"statusCode": 200}


def turns(stack: Stack, owner: str, conversation_id: str) -> list[dict[str, Any]]:
    items = stack.dynamodb().query(
        TableName=stack.tables["StateTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"C#{owner}#{conversation_id}"}},
    )["Items"]
    return [{"sk": i["sk"]["S"], "message_id": i["message_id"]["S"], "doc": json.loads(i["doc"]["S"])} for i in items]


def earlier_turn(event: dict[str, Any]) -> None:
    """The turn that set the reminder: a reminder is always due in a conversation that has one."""
    store = composition.conversation_store()
    state = store.load(event["conversation_id"], event["owner"])
    store.save(state, Turn(seq=0, message_id="m-0", channel=Channel(event["channel"]), user_text="remind me"))


def history(owner: str, conversation_id: str) -> list[dict[str, Any]]:
    page = composition.conversation_store().list_turns(conversation_id, owner)
    return [{"message_id": t.message_id, "user_text": t.user_text, "bot_texts": t.bot_texts} for t in page.turns]


def test_every_open_connection_of_the_user_gets_the_reminder_and_the_bot_remembers_saying_it(stack: Stack) -> None:
    connect("conn-a=")
    connect("conn-b=")
    connect("someone-else=", sub="user-456")
    event = load_event("reminder/due_websocket.json")
    earlier_turn(event)
    result = deliver(event)
    assert result == {"status": "delivered", "message_id": f"reminder:{event['schedule']}", "pushed": 2}
    for connection_id in ("conn-a=", "conn-b="):
        (frame,) = stack.recorder.frames(connection_id)
        assert frame["type"] == "reply"
        assert [m["text"] for m in frame["messages"]] == ["Reminder: remind me to call the bank"]
        assert frame["conversation_id"] == "conv-ws-1"
        assert frame["actions"] == [
            {"type": "reminder", "params": {"schedule": event["schedule"], "due": event["due"]}}
        ]
    assert stack.recorder.frames("someone-else=") == []
    assert history("user:user-123", "conv-ws-1")[0] == {
        "message_id": result["message_id"],
        "user_text": "",
        "bot_texts": ["Reminder: remind me to call the bank"],
    }


def test_the_reminder_follows_the_turns_already_in_the_conversation(stack: Stack) -> None:
    connect("conn-a=")
    frame = load_event("websocket/message.json")
    frame["requestContext"]["connectionId"] = "conn-a="
    frame["body"] = json.dumps({"text": "hello", "conversation_id": "conv-ws-1", "message_id": "m-1"})
    websocket_handler.handler(frame, lambda_context("clawline-websocket"))
    deliver(load_event("reminder/due_websocket.json"))
    stored = turns(stack, "user:user-123", "conv-ws-1")
    assert [(t["sk"], t["message_id"].split(":")[0]) for t in stored] == [
        ("T#000000000001", "m-1"),
        ("T#000000000002", "reminder"),
    ]
    # The reminder's turn carries the conversation's state forward, as every turn item does.
    assert stored[1]["doc"]["s"].get("slots", {}) == stored[0]["doc"]["s"].get("slots", {})


def test_a_scheduler_retry_delivers_once(stack: Stack) -> None:
    connect("conn-a=")
    event = load_event("reminder/due_websocket.json")
    earlier_turn(event)
    assert deliver(event)["status"] == "delivered"
    # Another invocation (the scheduler invoking again): stored already, nothing pushed again.
    assert deliver(event) == {"status": "duplicate", "message_id": f"reminder:{event['schedule']}", "pushed": 0}
    assert len(stack.recorder.frames("conn-a=")) == 1
    assert len(turns(stack, "user:user-123", "conv-ws-1")) == 2  # the turn that set it, and the reminder


def test_lambda_retrying_the_same_invocation_pushes_again_but_stores_once(stack: Stack) -> None:
    connect("conn-a=")
    event = load_event("reminder/due_websocket.json")
    earlier_turn(event)
    context = lambda_context("clawline-reminder")
    deliver(event, context)
    # Lambda's retry of an invocation that failed after storing (same request id): the push may not have left.
    assert deliver(event, context)["status"] == "delivered"
    assert len(stack.recorder.frames("conn-a=")) == 2
    assert len(turns(stack, "user:user-123", "conv-ws-1")) == 2


def test_a_closed_socket_is_forgotten_and_the_open_one_still_gets_the_reminder(stack: Stack) -> None:
    connect("gone=")
    connect("open=")
    stack.recorder.gone.add("gone=")
    event = load_event("reminder/due_websocket.json")
    earlier_turn(event)
    result = deliver(event)
    assert (result["status"], result["pushed"]) == ("delivered", 1)
    assert len(stack.recorder.frames("open=")) == 1
    connections = stack.dynamodb().scan(TableName=stack.tables["ConnectionsTable"])["Items"]
    assert sorted(i["connection_id"]["S"] for i in connections) == ["open="]


def test_a_user_with_no_open_socket_finds_the_reminder_in_the_history(stack: Stack) -> None:
    event = load_event("reminder/due_websocket.json")
    earlier_turn(event)
    result = deliver(event)
    assert (result["status"], result["pushed"]) == ("delivered", 0)
    assert [t["bot_texts"] for t in history("user:user-123", "conv-ws-1")] == [
        ["Reminder: remind me to call the bank"],
        [],
    ]  # newest first: the reminder, the turn that set it


def test_a_device_gets_the_reminder_on_its_reply_topic(stack: Stack) -> None:
    event = load_event("reminder/due_mqtt.json")
    earlier_turn(event)
    result = deliver(event)
    assert (result["status"], result["pushed"]) == ("delivered", 1)
    (published,) = stack.recorder.published("clawline/kitchen-1/out")
    assert published["type"] == "reply"
    assert [m["text"] for m in published["messages"]] == ["Reminder: descale the machine"]
    assert [t["bot_texts"] for t in history("thing:kitchen-1", "kitchen-1")] == [
        ["Reminder: descale the machine"],
        [],
    ]  # newest first: the reminder, the turn that set it


def test_an_http_reminder_is_stored_for_the_history_and_pushed_nowhere(stack: Stack) -> None:
    event = load_event("reminder/due_http.json")
    earlier_turn(event)
    result = deliver(event)
    assert (result["status"], result["pushed"]) == ("delivered", 0)
    assert stack.recorder.posts == [] and stack.recorder.publishes == []
    assert [t["bot_texts"] for t in history("user:user-123", "conv-http-1")] == [
        ["Reminder: renew the parking permit"],
        [],
    ]  # newest first: the reminder, the turn that set it


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"type": "something.else"}, "type"),
        ({"channel": "mqtt", "user": "not a thing/name"}, "thing name"),
        ({"conversation_id": "a#b"}, "conversation_id"),
        ({"extra": 1}, "extra"),
    ],
)
def test_an_event_that_is_no_reminder_is_dead_lettered_and_stores_nothing(
    stack: Stack, change: dict[str, Any], reason: str
) -> None:
    event = {**load_event("reminder/due_websocket.json"), **change}
    assert deliver(event) == {"status": "rejected", "error": "invalid_input"}
    (record,) = stack.dead_letters()
    assert (record["reason"], record["error"], record["event"]) == ("permanent_error", "invalid_input", event)
    assert stack.count_items("StateTable") == 0


def test_a_client_message_that_took_the_reminders_id_is_left_alone(stack: Stack) -> None:
    connect("conn-a=")
    event = load_event("reminder/due_websocket.json")
    frame = load_event("websocket/message.json")
    frame["requestContext"]["connectionId"] = "conn-a="
    frame["body"] = json.dumps(
        {"text": "hello", "conversation_id": "conv-ws-1", "message_id": f"reminder:{event['schedule']}"}
    )
    websocket_handler.handler(frame, lambda_context("clawline-websocket"))
    assert deliver(event)["status"] == "superseded"
    assert [t["user_text"] for t in history("user:user-123", "conv-ws-1")] == ["hello"]


def test_a_reminder_due_in_a_deleted_conversation_stores_and_sends_nothing(stack: Stack) -> None:
    # The user deleted the conversation (or erased their data) after setting the reminder: delivering it would
    # bring a turn back under their key.
    connect("conn-a=")
    event = load_event("reminder/due_websocket.json")
    earlier_turn(event)
    assert composition.conversation_store().delete(event["conversation_id"], event["owner"]) > 0
    assert deliver(event) == {"status": "gone", "message_id": f"reminder:{event['schedule']}", "pushed": 0}
    assert stack.recorder.frames("conn-a=") == []
    assert stack.count_items("StateTable") == 0


def test_a_reminder_scheduled_before_owner_keys_is_stored_under_the_senders_owner_key(stack: Stack) -> None:
    event = load_event("reminder/due_websocket.json")
    earlier_turn(event)
    legacy = {k: v for k, v in event.items() if k != "owner"}
    assert deliver(legacy)["status"] == "delivered"
    assert history("user:user-123", "conv-ws-1")[0]["bot_texts"] == ["Reminder: remind me to call the bank"]
