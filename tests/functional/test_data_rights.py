"""Data rights (issue 15): a user lists their conversations, exports everything stored about them and erases it;
an admin does the same by user id, and for an IoT thing.

Everything is seeded through the real handlers, as API Gateway and IoT Core invoke them, against moto's server:
HTTP turns (one fills a ``scope: user`` profile slot), an upload referenced by a message, a WebSocket connection
left open and a message on it, a device paired by the admin route and its MQTT messages, and the rate-limit leases
those turns take. Another user has the same kinds of data alongside. After an erase every table and the uploads
bucket are scanned whole: nothing names the erased user, and the other user's items are exactly as before.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import mqtt_handler
import websocket_handler
from bench.meter import metering, operations
from clawline import composition
from clawline.attachments.limits import owner_prefix
from tests.functional.conftest import Stack
from tests.helpers.aws import client
from tests.helpers.events import load_event
from tests.helpers.http_function import call
from tests.helpers.lambda_context import lambda_context

ERIN, OSCAR = "erin-5d1f", "oscar-82c4"
#: Devices: named after neither user, so a scan for a user's sub finds nothing of the device's own items.
ERINS_LAMP, OSCARS_KETTLE, GARAGE = "porch-lamp-3", "kitchen-kettle-9", "garage-door-7"
ADMIN = "chat clawline/admin"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))


def http(method: str, path: str, *, sub: str, scope: str = "chat", body: Any = None) -> tuple[int, Any]:
    return call(method, path, sub=sub, scope=scope, body=body)


def say(sub: str, text: str, message_id: str, **extra: Any) -> dict[str, Any]:
    status, body = http("POST", "/v1/messages", sub=sub, body={"text": text, "message_id": message_id, **extra})
    assert status == 200, body
    answer: dict[str, Any] = body
    return answer


def upload(sub: str) -> dict[str, Any]:
    status, answer = http(
        "POST", "/v1/uploads", sub=sub, body={"kind": "image", "content_type": "image/png", "size": len(PNG)}
    )
    assert status == 200, answer
    put = httpx.put(answer["upload"]["url"], content=PNG, headers=answer["upload"]["headers"])
    assert put.status_code == 200, put.text
    attachment: dict[str, Any] = answer["attachment"]
    return attachment


def ws(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = websocket_handler.handler(event, lambda_context("clawline-websocket"))
    return result


def ws_connect(connection_id: str, sub: str) -> None:
    event = load_event("websocket/connect.json")
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["authorizer"].update({"principalId": sub, "sub": sub})
    assert ws(event) == {"statusCode": 200}


def ws_say(connection_id: str, text: str, message_id: str) -> None:
    """A message on an open connection: the connection record says whose it is."""
    event = load_event("websocket/message.json")
    event["body"] = json.dumps({"text": text, "message_id": message_id})
    event["requestContext"]["connectionId"] = connection_id
    assert ws(event) == {"statusCode": 200}


def device_says(thing: str, text: str, message_id: str) -> dict[str, Any]:
    event = load_event("mqtt/message.json")
    event["payload"] = base64.b64encode(json.dumps({"text": text, "message_id": message_id}).encode()).decode()
    event["thing"] = event["client_id"] = thing
    result: dict[str, Any] = mqtt_handler.handler(event, lambda_context("clawline-mqtt"))
    return result


def seed(sub: str, thing: str, connection_id: str) -> None:
    """One user's data on every channel, each kind the data-rights routes cover."""
    say(sub, "remember my name", f"{sub}-h1")
    say(sub, "Robin", f"{sub}-h2")  # the bot asked for it: the `scope: user` slot goes to the profile
    say(sub, "look at this", f"{sub}-h3", attachments=[upload(sub)])
    ws_connect(connection_id, sub)  # left open: its connection record stays
    ws_say(connection_id, "hello from the browser", f"{sub}-w1")
    assert http("PUT", f"/v1/admin/devices/{thing}/pairing", sub="root", scope=ADMIN, body={"user": sub})[0] == 204
    assert device_says(thing, "ping", f"{sub}-d1")["status"] == "replied"
    say(sub, "a second conversation", f"{sub}-h4", conversation_id=f"trip-{sub}")


@pytest.fixture(autouse=True)
def _fresh_dead_letters() -> Iterator[None]:
    mqtt_handler.dead_letters.cache_clear()
    yield
    mqtt_handler.dead_letters.cache_clear()


def everything(stack: Stack) -> list[str]:
    """Every item of every table and every object key of the bucket, each as one JSON line."""
    dynamodb = stack.dynamodb()
    lines = []
    for logical_id, table in sorted(stack.tables.items()):
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            lines += [json.dumps({"table": logical_id, **item}, sort_keys=True, default=str) for item in page["Items"]]
    s3 = client("s3", stack.endpoint)
    for bucket in stack.buckets.values():
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            lines += [json.dumps({"object": o["Key"]}) for o in page.get("Contents", [])]
    return sorted(lines)


def naming(lines: list[str], sub: str) -> list[str]:
    """What names a user: their sub (alone or in their owner key), or their uploads' folder."""
    folder = owner_prefix(f"user:{sub}")
    return [line for line in lines if sub in line or folder in line]


def test_erasing_a_user_leaves_nothing_that_names_them_in_any_table_or_the_bucket(stack: Stack) -> None:
    seed(ERIN, ERINS_LAMP, "erin-conn=")
    seed(OSCAR, OSCARS_KETTLE, "oscar-conn=")
    before = everything(stack)
    # Every kind of item is there to be erased: turns, index, pointer, profile, pairing both ways, connection,
    # rate-limit bucket, upload.
    erins = "\n".join(naming(before, ERIN))
    for kind in (
        f'"C#user:{ERIN}#',
        f'"U#user:{ERIN}"',
        '"CUR"',
        '"PROFILE"',
        f'"THING#{ERINS_LAMP}"',
        f'"D#{ERINS_LAMP}"',
        '"ConnectionsTable"',
        f'"default#user:{ERIN}"',
        '"object"',
    ):
        assert kind in erins, kind

    assert http("DELETE", "/v1/me", sub=ERIN) == (204, None)

    after = everything(stack)
    assert naming(after, ERIN) == []
    # The other user's data is exactly as it was; what was neither's (the devices' own rate-limit buckets) too.
    assert naming(after, OSCAR) == naming(before, OSCAR)
    assert set(after) == set(before) - set(naming(before, ERIN))
    # Idempotent: erasing again answers the same and changes nothing.
    assert http("DELETE", "/v1/me", sub=ERIN) == (204, None)
    assert everything(stack) == after
    # The unpaired device talks as itself again (its owner key), not into the erased user's conversation.
    assert http("GET", f"/v1/admin/devices/{ERINS_LAMP}/pairing", sub="root", scope=ADMIN)[1]["error"] == "not_found"


def test_the_export_holds_each_kind_of_data_and_nothing_of_anyone_else(stack: Stack) -> None:
    seed(ERIN, ERINS_LAMP, "erin-conn=")
    seed(OSCAR, OSCARS_KETTLE, "oscar-conn=")
    status, export = http("GET", "/v1/me/export", sub=ERIN)
    assert status == 200, export
    assert OSCAR not in json.dumps(export) and OSCARS_KETTLE not in json.dumps(export)
    assert export["format"] == "clawline.export.v1" and export["owner"] == f"user:{ERIN}"

    # Conversations, newest first, with every turn decrypted, from every channel.
    newest, oldest = export["conversations"]  # the first one (HTTP, WebSocket, MQTT) and the one named later
    assert newest["conversation_id"] == f"trip-{ERIN}" and oldest["channel"] == "http"
    current = [c for c in export["conversations"] if c["current"]]
    assert [c["conversation_id"] for c in current] == [f"trip-{ERIN}"]
    turns = [t for c in export["conversations"] for t in c["turns"]]
    assert sorted(t["message_id"] for t in turns) == sorted(f"{ERIN}-{m}" for m in ("h1", "h2", "h3", "h4", "w1", "d1"))
    assert {t["turn"]["channel"] for t in turns} == {"http", "websocket", "mqtt"}
    by_id = {t["message_id"]: t for t in turns}
    assert by_id[f"{ERIN}-w1"]["turn"]["user_text"] == "hello from the browser"
    assert by_id[f"{ERIN}-d1"]["reply"]["messages"][0]["text"]  # the stored reply: what a replay would answer
    assert all(t["expires_at"] for t in turns)

    assert export["profile"]["slots"] == {"customer_name": "Robin"}
    assert [d["thing"] for d in export["paired_devices"]] == [ERINS_LAMP]
    assert export["pairing"] is None
    assert [c["connection_id"] for c in export["connections"]] == ["erin-conn="]
    assert export["connections"][0]["connected_at"]
    assert export["rate_limit"]["key"] == f"default#user:{ERIN}"
    (uploaded,) = export["uploads"]
    assert uploaded["size"] == len(PNG) and len(uploaded["id"]) == 32

    # The admin's export of the same user is the same document.
    status, by_admin = http("GET", f"/v1/admin/users/{ERIN}/export", sub="root", scope=ADMIN)
    assert status == 200
    assert {**by_admin, "exported_at": None, "rate_limit": None} == {**export, "exported_at": None, "rate_limit": None}


def test_conversations_are_listed_newest_first_a_page_at_a_time(stack: Stack) -> None:
    for name in ("first", "second", "third"):
        say(ERIN, f"hi in {name}", f"m-{name}", conversation_id=name)
    say(OSCAR, "not yours", "o-1", conversation_id="oscars")
    status, page = http("GET", "/v1/conversations?limit=2", sub=ERIN)
    assert status == 200, page
    assert [c["conversation_id"] for c in page["conversations"]] == ["third", "second"]
    assert page["conversations"][0]["current"] is True and page["conversations"][0]["channel"] == "http"
    status, rest = http("GET", f"/v1/conversations?limit=2&cursor={page['next_cursor']}", sub=ERIN)
    assert status == 200
    assert [c["conversation_id"] for c in rest["conversations"]] == ["first"]
    assert rest["next_cursor"] is None
    assert http("GET", "/v1/conversations", sub="nobody-yet") == (200, {"conversations": [], "next_cursor": None})
    status, body = http("GET", "/v1/conversations?cursor=bm90LWEtY3Vyc29y", sub=ERIN)
    assert (status, body["error"]) == (422, "invalid_input")
    # A deleted conversation leaves the list.
    assert http("DELETE", "/v1/conversations/second", sub=ERIN)[0] == 204
    assert [c["conversation_id"] for c in http("GET", "/v1/conversations", sub=ERIN)[1]["conversations"]] == [
        "third",
        "first",
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/v1/admin/users/{OSCAR}/export"),
        ("DELETE", f"/v1/admin/users/{OSCAR}"),
        ("GET", f"/v1/admin/things/{GARAGE}/export"),
        ("DELETE", f"/v1/admin/things/{GARAGE}"),
    ],
)
def test_the_admin_routes_need_the_admin_scope(stack: Stack, method: str, path: str) -> None:
    say(OSCAR, "keep this", "o-1")
    before = everything(stack)
    status, body = http(method, path, sub=ERIN, scope="chat")
    assert (status, body["error"]) == (403, "forbidden")
    assert everything(stack) == before


def test_an_admin_erases_a_user_by_id(stack: Stack) -> None:
    seed(ERIN, ERINS_LAMP, "erin-conn=")
    say(OSCAR, "keep this", "o-1")
    before = everything(stack)
    assert http("DELETE", f"/v1/admin/users/{ERIN}", sub="root", scope=ADMIN) == (204, None)
    after = everything(stack)
    assert naming(after, ERIN) == [] and naming(after, OSCAR) == naming(before, OSCAR)
    status, export = http("GET", f"/v1/admin/users/{ERIN}/export", sub="root", scope=ADMIN)
    assert status == 200
    assert (export["conversations"], export["profile"], export["connections"], export["uploads"]) == ([], None, [], [])


def test_an_admin_exports_and_erases_a_thing_and_its_pairing_but_not_its_users_conversations(stack: Stack) -> None:
    assert device_says(GARAGE, "ping", "g-1")["status"] == "replied"  # unpaired: its own conversation
    assert device_says(GARAGE, "ping", "g-2")["status"] == "replied"
    say(OSCAR, "hello", "o-1")
    assert http("PUT", f"/v1/admin/devices/{GARAGE}/pairing", sub="root", scope=ADMIN, body={"user": OSCAR})[0] == 204
    status, export = http("GET", f"/v1/admin/things/{GARAGE}/export", sub="root", scope=ADMIN)
    assert status == 200, export
    assert export["owner"] == f"thing:{GARAGE}"
    assert [t["message_id"] for c in export["conversations"] for t in c["turns"]] == ["g-1", "g-2"]
    assert export["pairing"]["user"] == OSCAR and export["pairing"]["paired_at"]
    assert export["rate_limit"]["key"] == f"default#thing:{GARAGE}"
    oscars_turns = [line for line in naming(everything(stack), OSCAR) if f"C#user:{OSCAR}#" in line]

    assert http("DELETE", f"/v1/admin/things/{GARAGE}", sub="root", scope=ADMIN) == (204, None)
    after = everything(stack)
    assert [line for line in after if GARAGE in line] == []  # its turns, pairing (both items), bucket
    assert [line for line in naming(after, OSCAR) if f"C#user:{OSCAR}#" in line] == oscars_turns
    assert http("DELETE", f"/v1/admin/things/{GARAGE}", sub="root", scope=ADMIN) == (204, None)


def test_a_pairing_is_listed_in_its_users_partition_and_follows_re_pairing(stack: Stack) -> None:
    def reverse_items() -> list[tuple[str, str]]:
        items = stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"]
        return sorted((i["pk"]["S"], i["sk"]["S"]) for i in items if i["sk"]["S"].startswith("THING#"))

    admin = {"sub": "root", "scope": ADMIN}
    assert http("PUT", f"/v1/admin/devices/{GARAGE}/pairing", body={"user": ERIN}, **admin)[0] == 204
    assert reverse_items() == [(f"U#user:{ERIN}", f"THING#{GARAGE}")]
    assert http("PUT", f"/v1/admin/devices/{GARAGE}/pairing", body={"user": OSCAR}, **admin)[0] == 204
    assert reverse_items() == [(f"U#user:{OSCAR}", f"THING#{GARAGE}")]
    assert http("DELETE", f"/v1/admin/devices/{GARAGE}/pairing", **admin)[0] == 204
    assert reverse_items() == []


def test_erasing_a_user_leaves_a_device_re_paired_to_someone_else_alone(stack: Stack) -> None:
    admin = {"sub": "root", "scope": ADMIN}
    assert http("PUT", f"/v1/admin/devices/{GARAGE}/pairing", body={"user": ERIN}, **admin)[0] == 204
    # A stale reverse item (as if the re-pairing below had been cut short before removing it).
    stale = {"pk": {"S": f"U#user:{ERIN}"}, "sk": {"S": f"THING#{GARAGE}"}}
    assert http("PUT", f"/v1/admin/devices/{GARAGE}/pairing", body={"user": OSCAR}, **admin)[0] == 204
    stack.dynamodb().put_item(TableName=stack.tables["StateTable"], Item=stale)
    assert http("DELETE", "/v1/me", sub=ERIN) == (204, None)
    assert http("GET", f"/v1/admin/devices/{GARAGE}/pairing", **admin) == (200, {"thing": GARAGE, "user": OSCAR})
    assert naming(everything(stack), ERIN) == []


def test_what_an_export_and_an_erase_cost_follows_the_documented_counts(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/storage.md, "Data rights": per conversation one Query (and one BatchWriteItem per 25 items erased)."""
    monkeypatch.setenv("CLAWLINE_RATE_LIMIT_CAPACITY", "1000")
    composition.reset()
    turns = {"long": 27, "short": 2, "latest": 1}  # "long" crosses a 25-item batch; each later one supersedes
    for conversation, count in turns.items():
        for n in range(count):
            say(ERIN, f"message {n}", f"{conversation}-{n}", conversation_id=conversation)
    items = [line for line in everything(stack) if f"user:{ERIN}" in line and '"StateTable"' in line]
    per_partition = Counter(json.loads(line)["pk"]["S"] for line in items)
    conversations = len(turns)

    with metering() as meter:
        mark = meter.mark()
        assert http("GET", "/v1/me/export", sub=ERIN)[0] == 200
        exported = operations(meter.since(mark)) - Counter({"dynamodb.UpdateItem": 99})  # the rate limiter's lease
        mark = meter.mark()
        assert http("DELETE", "/v1/me", sub=ERIN) == (204, None)
        erased = operations(meter.since(mark)) - Counter({"dynamodb.UpdateItem": 99})

    # Export: the owner's partition, each conversation, the connections index; the bucket item; the uploads.
    assert exported == Counter({"dynamodb.Query": 1 + conversations + 1, "dynamodb.GetItem": 1, "s3.ListObjectsV2": 1})
    # Erase: the same reads (consistent), each conversation's items and index item in batches of 25, then what is
    # left of the owner's partition (here CUR) read and deleted; the rate-limit item.
    batches = sum(math.ceil((per_partition[f"C#user:{ERIN}#{c}"] + 1) / 25) for c in turns) + math.ceil(
        (per_partition[f"U#user:{ERIN}"] - conversations) / 25
    )
    assert erased == Counter(
        {
            "dynamodb.Query": 1 + conversations + 1 + 1,
            "dynamodb.BatchWriteItem": batches,
            "dynamodb.DeleteItem": 1,
            "s3.ListObjectsV2": 1,
        }
    )
    assert batches == 2 + 1 + 1 + 1
