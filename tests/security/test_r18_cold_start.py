"""R18: cold start is safe. Every handler module imports with sockets disabled and an empty environment, and a
missing required setting fails at the first invoke, naming the variable.

Each check runs in a fresh interpreter: the test process has long imported everything, so only a new process
shows what an import really does.

"Sockets disabled" means no way to reach the network: pytest-socket refuses every connect, and name lookups and
datagram sends raise too. Creating a socket object is allowed because the X-Ray SDK (behind Powertools' Tracer)
makes its UDP emitter socket when imported; it sends nothing until a traced invoke ends.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = ["http_app", "websocket_handler", "mqtt_handler", "authorizer", "reminder_handler"]

PRELUDE = """
import importlib, json, socket, sys
import pytest_socket
pytest_socket.socket_allow_hosts([], allow_unix_socket=False)
def _blocked(*_a, **_k):
    raise pytest_socket.SocketBlockedError()
socket.getaddrinfo = socket.gethostbyname = _blocked
socket.socket.sendto = socket.socket.send = socket.socket.sendall = _blocked
sys.path[:0] = {paths!r}
"""


def run_clean(code: str) -> subprocess.CompletedProcess[str]:
    paths = [
        str(ROOT),
        str(ROOT / "layers" / "engine"),
        *(str(ROOT / "functions" / d) for d in ("http", "websocket", "mqtt", "authorizer", "reminder")),
    ]
    # Only what a Python needs to start: no AWS_*, no CLAWLINE_*, no credentials.
    env = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(PRELUDE.format(paths=paths)) + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
        check=False,
    )


def test_r18_every_handler_imports_with_sockets_disabled_and_an_empty_environment() -> None:
    result = run_clean(
        """
        for name in HANDLERS:
            module = importlib.import_module(name)
            assert callable(module.handler), name
        connect = lambda: socket.create_connection(("127.0.0.1", 9))
        resolve = lambda: socket.getaddrinfo("aws.amazon.com", 443)
        for attempt in (connect, resolve):
            try:
                attempt()
            except Exception as exc:
                print("sockets-blocked", type(exc).__name__)
        """.replace("HANDLERS", repr(HANDLERS))
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("sockets-blocked SocketBlockedError") == 2


@pytest.mark.parametrize(
    ("handler", "event", "variable"),
    [
        ("websocket_handler", "websocket/connect_authorized", "CLAWLINE_CONNECTIONS_TABLE"),
        ("mqtt_handler", "mqtt/message.json", "CLAWLINE_STATE_TABLE"),
        ("http_app", "http/post_message.json", "CLAWLINE_STATE_TABLE"),
        ("reminder_handler", "reminder/due_http.json", "CLAWLINE_STATE_TABLE"),
    ],
)
def test_r18_missing_required_setting_fails_at_first_invoke_naming_the_variable(
    handler: str, event: str, variable: str
) -> None:
    result = run_clean(
        f"""
        import os
        os.environ.update({{"AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "1"}})
        sys.path.insert(0, {str(ROOT)!r})
        from tests.helpers.events import load_event
        from tests.helpers.lambda_context import lambda_context
        name = {event!r}
        if name == "websocket/connect_authorized":
            event = load_event("websocket/connect.json")
            event["requestContext"]["authorizer"] = {{"principalId": "alice", "sub": "alice"}}
        else:
            event = load_event(name)
        module = importlib.import_module({handler!r})
        try:
            result = module.handler(event, lambda_context())
        except Exception as exc:
            print("raised", type(exc).__name__, exc)
        else:
            print("returned", json.dumps(result))
        """
    )
    assert result.returncode == 0, result.stderr
    assert variable in result.stdout, result.stdout + result.stderr
    if handler != "http_app":
        # Asynchronous and WebSocket invokes must raise: a misconfigured function is not the caller's fault.
        outcome = [line for line in result.stdout.splitlines() if line.startswith(("raised", "returned"))]
        assert outcome and outcome[0].startswith("raised ConfigurationError"), result.stdout
    else:
        assert '"statusCode": 500' in result.stdout
