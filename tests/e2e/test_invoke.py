"""`clawline invoke --in-process`: one function, one event, no build and no Docker; the result alone on standard
output, the function's replies elsewhere (@connections, iot-data) reported on standard error."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def clawline(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env["PYTHONPATH"] = str(ROOT / "layers" / "engine")
    return subprocess.run(
        [sys.executable, "-m", "clawline", *args],
        cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_a_generated_http_event_is_answered_in_process_with_the_authorizer_context_of_sub() -> None:
    event = clawline("generate-event", "http", "--text", "i want a pizza", "--conversation-id", "c-inv")
    assert event.returncode == 0, event.stderr
    done = clawline("invoke", "http", "--event", "-", "--in-process", "--sub", "frank", stdin=event.stdout)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)  # nothing else on standard output
    assert result["statusCode"] == 200
    body = json.loads(result["body"])
    assert body["conversation_id"] == "c-inv"
    assert body["replies"][0]["text"] == "Which pizza would you like?"
    assert re.search(r'authorizer context: \{"sub": "frank", "scope": "chat", "exp": "\d+"\}', done.stderr)


def test_bad_input_is_refused_with_a_reason() -> None:
    unknown = clawline("invoke", "pizza", "--event", "events/http/health.json", "--in-process")
    assert unknown.returncode == 2
    assert "no function 'pizza' (functions: " in unknown.stderr
    broken = clawline("invoke", "http", "--event", "-", "--in-process", stdin="{not json")
    assert broken.returncode == 2
    assert "cannot read the event" in broken.stderr
