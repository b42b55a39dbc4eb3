"""SnapStart's before-snapshot hook (``clawline.snapstart.warm``) loads what a first turn needs and holds neither
credentials nor connections, so one snapshot can resume many environments; outside a snap-start INIT nothing is
registered or imported. The hook runs in a fresh interpreter (as Lambda's INIT does), with botocore's credential
resolver and the socket layer observed, then the MQTT handler answers a real turn against the moto stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clawline import snapstart
from tests.functional.conftest import Stack

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import base64, json, socket, sys
import botocore.credentials

resolved, connections = [], []
load_credentials = botocore.credentials.CredentialResolver.load_credentials
def counting_load(self):
    resolved.append(1)
    return load_credentials(self)
botocore.credentials.CredentialResolver.load_credentials = counting_load
connect = socket.socket.connect
def counting_connect(self, address):
    connections.append(str(address))
    return connect(self, address)
socket.socket.connect = counting_connect

from clawline import aws, composition, snapstart
snapstart.warm(("dynamodb", "iot-data", "kms", "sqs"))
report = {"warm": {"credentials": len(resolved), "connections": connections[:], "numpy": "numpy" in sys.modules,
                   "nlu_built": composition.nlu().built, "bot": composition.bot.cache_info().currsize,
                   "clients": aws.client.cache_info().currsize}}

import mqtt_handler
class Context:
    function_name = "clawline-mqtt"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:clawline-mqtt"
    memory_limit_in_mb = 512
    aws_request_id = "snapstart-1"
    def get_remaining_time_in_millis(self):
        return 10000
payload = base64.b64encode(json.dumps({"text": "ping", "message_id": "snap-1"}).encode()).decode()
event = {"payload": payload, "thing": "snap-thing", "client_id": "snap-thing", "received_at": 0}
report["turn"] = {"result": mqtt_handler.handler(event, Context()), "credentials": len(resolved),
                  "connections": len(connections)}
print(json.dumps(report))
"""


def run_probe(extra_env: dict[str, str] | None = None) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions" / "mqtt"), str(ROOT / "layers" / "engine"), str(ROOT)]),
        "CLAWLINE_BOT_PATH": str(ROOT / "bots" / "default"),
        "POWERTOOLS_TRACE_DISABLED": "true",
        **(extra_env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_the_snapshot_holds_the_bot_its_nlu_and_client_models_but_no_credentials_or_connections(stack: Stack) -> None:
    report = run_probe()
    warm = report["warm"]
    assert warm["bot"] == 1 and warm["nlu_built"] is True
    assert warm["numpy"] is False  # the bot's trained model is held without numpy (``clawline.nlu.linear_runtime``)
    assert warm["credentials"] == 0, "the hook resolved credentials that the snapshot would then carry"
    assert warm["connections"] == [], "the hook opened connections that the snapshot would then carry"
    assert warm["clients"] == 0  # the function's clients are built on its first invocation, after the restore
    turn = report["turn"]
    assert turn["result"] == {"status": "replied", "message_id": "snap-1"}
    assert turn["credentials"] >= 1 and turn["connections"] >= 1  # the turn itself resolves and connects
    assert [json.loads(body)["messages"][0]["text"] for _topic, body in stack.recorder.publishes] == ["pong"]


def test_outside_a_snapstart_init_nothing_is_registered_or_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
    assert snapstart.register(("dynamodb",)) is False
    assert "snapshot_restore_py" not in sys.modules


def test_a_snapstart_init_without_the_runtime_hooks_library_still_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    # The managed python3.12+ runtimes ship snapshot_restore_py; elsewhere the function starts, only colder.
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", snapstart.SNAPSHOT_INIT)
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # None in sys.modules: the import fails
    assert snapstart.register(("dynamodb",)) is False


def test_after_restore_each_environment_draws_its_own_random_numbers() -> None:
    import random

    random.seed(7)
    snapshot_state = random.getstate()
    snapstart.reseed()
    first = random.random()
    random.setstate(snapshot_state)
    snapstart.reseed()
    assert random.random() != first  # two environments resumed from one snapshot diverge
