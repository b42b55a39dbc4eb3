"""Device pairing (issue 16 item 7): an admin links a thing to a user; the thing's MQTT messages then join that
user's conversations, while its rate-limit bucket stays its own. The HTTP and MQTT functions are invoked as API
Gateway and the IoT rule invoke them, against moto's server; the CLI writes the same item.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import mqtt_handler
from clawline import composition
from clawline.cli import main
from clawline.store.pairings import DeviceOwners, InMemoryPairings
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.http_function import call
from tests.helpers.lambda_context import lambda_context

THING = "hall-speaker"
ADMIN = "chat clawline/admin"


def http(method: str, path: str, *, sub: str = "root", scope: str = ADMIN, body: Any = None) -> tuple[int, Any]:
    return call(method, path, sub=sub, scope=scope, body=body)


def device_says(text: str, message_id: str, thing: str = THING) -> dict[str, Any]:
    event = load_event("mqtt/message.json")
    event["payload"] = base64.b64encode(json.dumps({"text": text, "message_id": message_id}).encode()).decode()
    event["thing"] = event["client_id"] = thing
    result: dict[str, Any] = mqtt_handler.handler(event, lambda_context("clawline-mqtt"))
    return result


@pytest.fixture(autouse=True)
def _fresh_dead_letters() -> None:
    mqtt_handler.dead_letters.cache_clear()


def test_an_admin_pairs_reads_and_unpairs_a_device(stack: Stack) -> None:
    assert http("GET", f"/v1/admin/devices/{THING}/pairing") == (
        404,
        {"error": "not_found", "message": "the device is not paired"},
    )
    assert http("PUT", f"/v1/admin/devices/{THING}/pairing", body={"user": "ann"}) == (204, None)
    assert http("GET", f"/v1/admin/devices/{THING}/pairing") == (200, {"thing": THING, "user": "ann"})
    assert http("DELETE", f"/v1/admin/devices/{THING}/pairing") == (204, None)
    assert http("DELETE", f"/v1/admin/devices/{THING}/pairing")[0] == 404
    assert http("GET", f"/v1/admin/devices/{THING}/pairing")[0] == 404


def test_pairing_needs_the_admin_scope_and_a_well_formed_body(stack: Stack) -> None:
    status, body = http("PUT", f"/v1/admin/devices/{THING}/pairing", scope="chat", body={"user": "mallory"})
    assert (status, body["error"]) == (403, "forbidden")
    status, body = http("PUT", f"/v1/admin/devices/{THING}/pairing", body={"user": "ann", "role": "admin"})
    assert (status, body["error"]) == (422, "invalid_input")
    status, body = http("PUT", "/v1/admin/devices/bad%2Fname/pairing", body={"user": "ann"})
    assert status in (404, 422)
    assert http("GET", f"/v1/admin/devices/{THING}/pairing")[0] == 404  # nothing was written


def test_a_paired_device_joins_its_users_conversation_and_keeps_its_own_rate_limit(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAWLINE_RATE_LIMIT_CAPACITY", "2")
    monkeypatch.setenv("CLAWLINE_RATE_LIMIT_PER_SECOND", "0.001")
    composition.reset()
    assert http("PUT", f"/v1/admin/devices/{THING}/pairing", body={"user": "ann"})[0] == 204
    status, first = http("POST", "/v1/messages", sub="ann", scope="chat", body={"text": "hi", "message_id": "a-1"})
    assert status == 200
    assert device_says("hello from the hall", "d-1")["status"] == "replied"
    (reply,) = stack.recorder.published(f"clawline/{THING}/out")
    # The device's message went into Ann's current conversation, under her owner key.
    assert reply["conversation_id"] == first["conversation_id"]
    turns = composition.conversation_store().list_turns(first["conversation_id"], "user:ann").turns
    assert [t.message_id for t in turns] == ["d-1", "a-1"]
    # The device spends its own bucket (2 tokens), not Ann's: she can still talk after the device is throttled.
    assert device_says("again", "d-2")["status"] == "replied"
    assert device_says("and again", "d-3")["status"] == "dropped"
    assert (
        http("POST", "/v1/messages", sub="ann", scope="chat", body={"text": "still me", "message_id": "a-2"})[0] == 200
    )


def test_an_unpaired_device_talks_as_itself() -> None:
    pairings = InMemoryPairings()
    now = [0.0]
    owners = DeviceOwners(pairings, ttl=60, clock=lambda: now[0])
    assert owners.owner(THING) == f"thing:{THING}"
    pairings.pair(THING, "ann")
    assert owners.owner(THING) == f"thing:{THING}"  # cached: a container notices within the TTL...
    now[0] = 61
    assert owners.owner(THING) == "user:ann"  # ...and then
    pairings.unpair(THING)
    now[0] = 122
    assert owners.owner(THING) == f"thing:{THING}"


def test_the_cli_pairs_and_unpairs_in_the_stacks_state_table(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    table = stack.tables["StateTable"]
    assert main(["device", "pair", THING, "--user", "ann", "--table", table]) == 0
    assert http("GET", f"/v1/admin/devices/{THING}/pairing") == (200, {"thing": THING, "user": "ann"})
    assert main(["device", "unpair", THING, "--table", table]) == 0
    assert main(["device", "unpair", THING, "--table", table]) == 2
    assert "is not paired" in capsys.readouterr().err
    assert main(["device", "pair", "no/slash", "--user", "ann", "--table", table]) == 2
