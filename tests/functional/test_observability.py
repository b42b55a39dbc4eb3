"""What operators see: EMF metrics on stdout (namespace Clawline, by channel) and JSON logs with a correlation id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import http_app
import mqtt_handler
from clawline.observability import logger
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context


def emitted(out: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split captured stdout into EMF metric documents and log records."""
    metrics, logs = [], []
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        doc = json.loads(line)
        (metrics if "_aws" in doc else logs).append(doc)
    return metrics, logs


def metric_values(metrics: list[dict[str, Any]], name: str, channel: str) -> list[float]:
    values: list[float] = []
    for doc in metrics:
        (directive,) = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "Clawline"
        if name in doc and doc.get("channel") == channel:
            values.extend(doc[name] if isinstance(doc[name], list) else [doc[name]])
    return values


def test_http_turn_emits_turn_count_and_latency_for_the_http_channel(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    http_app.handler(load_event("http/post_message.json"), lambda_context("clawline-http"))
    metrics, _ = emitted(capsys.readouterr().out)
    assert metric_values(metrics, "Turns", "http") == [1.0]
    (latency,) = metric_values(metrics, "TurnLatency", "http")
    assert latency > 0


def test_replayed_mqtt_message_is_not_counted_as_a_second_turn(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    mqtt_handler.dead_letters.cache_clear()
    for _ in range(2):
        mqtt_handler.handler(load_event("mqtt/message.json"), lambda_context("clawline-mqtt"))
    metrics, _ = emitted(capsys.readouterr().out)
    assert metric_values(metrics, "Turns", "mqtt") == [1.0]


def test_rejected_input_is_counted_and_logs_carry_the_request_id_as_correlation_id(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("http/unknown_field.json")
    http_app.handler(event, lambda_context("clawline-http"))
    metrics, _ = emitted(capsys.readouterr().out)
    assert metric_values(metrics, "RejectedInput", "http") == [1.0]
    assert logger.get_correlation_id() == event["requestContext"]["requestId"]


PATCHED = """
import json, sys
import {module}
from aws_xray_sdk.core.patcher import _PATCHED_MODULES
print(json.dumps({{"patched": sorted(_PATCHED_MODULES), "botocore": "botocore.client" in sys.modules}}))
"""


@pytest.mark.parametrize(
    ("folder", "module", "patched", "botocore"),
    [
        ("http", "http_app", {"botocore"}, True),
        ("websocket", "websocket_handler", {"botocore"}, True),
        ("mqtt", "mqtt_handler", {"botocore"}, True),
        ("authorizer", "authorizer", {"httplib"}, False),
    ],
)
def test_in_lambda_each_function_traces_its_aws_and_http_calls_and_the_authorizer_skips_botocore(
    tmp_path: Path, folder: str, module: str, patched: set[str], botocore: bool
) -> None:
    """Imported as Lambda imports it (its environment variables set, so the tracer is on): which libraries X-Ray
    patches, and whether the import loaded botocore's client machinery (~0.2 s of cold start)."""
    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(str(root / p) for p in (f"functions/{folder}", "layers/engine")),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": f"clawline-{folder}",
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "HOME": str(tmp_path),
    }
    run = subprocess.run(
        [sys.executable, "-c", PATCHED.format(module=module)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout.strip().splitlines()[-1])
    assert patched <= set(report["patched"])
    assert report["botocore"] is botocore
    if not botocore:
        assert report["patched"] == sorted(patched)
