"""``clawline smoke``, the command a user runs after a deploy, run as a command against ``clawline dev`` with its
endpoints overridden: the local runtime stands in for the stack (its moto holds the stack's device policy, so
the MQTT check provisions and removes a real device record, and talks plain MQTT to the local broker).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.runtime import Runtime, free_port

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def smoke(rt: Runtime, *extra: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    endpoints = {
        "--http-url": rt.http_url,
        "--ws-url": rt.ws_url,
        "--mqtt-endpoint": f"mqtt://{rt.mqtt_host}:{rt.mqtt_port}",
        "--device-policy": rt.device_policies[0],
        "--iot-endpoint-url": rt.moto_url,
        "--token": rt.token("smoke-user"),
    }
    endpoints.update({f"--{k.replace('_', '-')}": v for k, v in overrides.items()})
    argv = [arg for pair in endpoints.items() for arg in pair]
    env = {
        **os.environ,  # the runtime's fake credentials and region
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "engine"), str(ROOT)]),
    }
    return subprocess.run(
        [sys.executable, "-m", "clawline", "smoke", "--region", "us-east-1", "--timeout", "20", *argv, *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def rows(output: str) -> dict[str, str]:
    """CHECK -> RESULT from the summary table."""
    table: dict[str, str] = {}
    for line in output.splitlines()[1:]:
        name, sep, rest = line.partition("  ")
        if sep and rest.split():
            table[name.strip()] = rest.split()[0]
    return table


def smoke_devices(rt: Runtime) -> list[dict[str, Any]]:
    iot = boto3.session.Session().client("iot", endpoint_url=rt.moto_url, region_name="us-east-1")
    return [t for t in iot.list_things()["things"] if t["thingName"].startswith("clawline-smoke-")]


def test_smoke_passes_every_protocol_against_the_local_runtime(runtime: Runtime) -> None:
    done = smoke(runtime)
    assert done.returncode == 0, done.stdout + done.stderr
    table = rows(done.stdout)
    expected = ["token", "health", "http", "websocket", "device", "mqtt", "device removed"]
    assert list(table) == expected, done.stdout
    assert set(table.values()) == {"ok"}, done.stdout
    assert "7/7 checks passed" in done.stdout
    # The device it made for the run is gone again.
    assert smoke_devices(runtime) == []


def test_smoke_exits_non_zero_when_one_protocol_fails(runtime: Runtime) -> None:
    nothing_listens = f"ws://127.0.0.1:{free_port()}/dev"
    done = smoke(runtime, ws_url=nothing_listens)
    assert done.returncode == 1, done.stdout + done.stderr
    table = rows(done.stdout)
    assert table["websocket"] == "FAIL"
    assert [name for name, result in table.items() if result != "ok"] == ["websocket"], done.stdout
    assert smoke_devices(runtime) == []


def test_smoke_with_a_rejected_token_fails_the_authenticated_turns(runtime: Runtime) -> None:
    done = smoke(runtime, token="not-a-jwt")
    assert done.returncode == 1
    table = rows(done.stdout)
    assert (table["health"], table["http"], table["websocket"]) == ("ok", "FAIL", "FAIL"), done.stdout
    assert "HTTP 401" in done.stdout or "HTTP 403" in done.stdout


def test_smoke_without_any_endpoint_says_what_to_give() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "engine"), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "clawline", "smoke", "--token", "t"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "--stack NAME" in done.stderr


def test_a_failed_mqtt_turn_still_removes_its_device(runtime: Runtime) -> None:
    done = smoke(runtime, mqtt_endpoint=f"mqtt://127.0.0.1:{free_port()}")
    assert done.returncode == 1, done.stdout + done.stderr
    table = rows(done.stdout)
    assert (table["device"], table["mqtt"], table["device removed"]) == ("ok", "FAIL", "ok"), done.stdout
    assert smoke_devices(runtime) == []
