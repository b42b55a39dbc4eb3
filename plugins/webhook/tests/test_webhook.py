"""The webhook plugin signs the turn, retries a failing endpoint with backoff, and uses the answer (loopback server;
the HMAC key in moto's Secrets Manager)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest

from clawline import aws
from plugins.webhook import signature
from tests.helpers.loopback import serve
from tests.unit.engine.helpers import make_engine, say

BOT = """
name: orders
settings: {plugin_error: failed, plugin_timeout_ms: 3000}
slots:
  status: {type: text}
plugins:
  - module: plugins.webhook
    class: WebhookPlugin
    config: {url: "URL/turn", secret: test/webhook-hmac, timeout_ms: 500, retries: 2, backoff_ms: 10}
rules:
  - {name: backend, when: "true", then: [{plugin: {name: webhook, params: {topic: orders}}}]}
responses:
  failed: ["The order system is not answering."]
"""
KEY = "s3cr3t-hmac-key"


class Endpoint(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []
    failures: ClassVar[int] = 0
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Endpoint.requests.append({"headers": dict(self.headers), "body": body})
        if Endpoint.failures:
            Endpoint.failures -= 1
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        turn = json.loads(body)
        answer = json.dumps(
            {"replies": [f"Order for {turn['sender']}: shipped."], "slots": {"status": "shipped"}, "data": {"n": 1}}
        ).encode()
        self.send_response(Endpoint.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endpoint(moto: str) -> Iterator[str]:
    secrets = aws.client("secretsmanager")
    try:
        secrets.create_secret(Name="test/webhook-hmac", SecretString=KEY)
    except secrets.exceptions.ResourceExistsException:
        secrets.put_secret_value(SecretId="test/webhook-hmac", SecretString=KEY)
    Endpoint.requests, Endpoint.failures, Endpoint.status = [], 0, 200
    with serve(Endpoint) as url:
        yield url


def test_the_turn_is_posted_signed_and_the_answer_is_used(tmp_path, endpoint):
    engine = make_engine(tmp_path / "bot", BOT.replace("URL", endpoint))
    reply = say(engine, "where is my order", sender="ann")
    assert reply.texts == ["Order for ann: shipped."]
    assert reply.slots == {"status": "shipped"}
    [request] = Endpoint.requests
    headers, body = request["headers"], request["body"]
    assert headers["X-Clawline-Signature"] == signature(KEY, headers["X-Clawline-Timestamp"], body)
    turn = json.loads(body)
    assert (turn["text"], turn["params"], turn["channel"]) == ("where is my order", {"topic": "orders"}, "test")
    assert headers["Idempotency-Key"] == turn["message_id"]


def test_a_failing_endpoint_is_retried_with_backoff(tmp_path, endpoint):
    Endpoint.failures = 2
    engine = make_engine(tmp_path / "bot", BOT.replace("URL", endpoint))
    assert say(engine, "order?", sender="bo").texts == ["Order for bo: shipped."]
    assert len(Endpoint.requests) == 3


def test_an_endpoint_down_after_the_retries_gets_the_plugin_error_reply(tmp_path, endpoint):
    Endpoint.failures = 10
    engine = make_engine(tmp_path / "bot", BOT.replace("URL", endpoint))
    assert say(engine, "order?").texts == ["The order system is not answering."]
    assert len(Endpoint.requests) == 3


def test_a_4xx_is_not_retried(tmp_path, endpoint):
    Endpoint.status = 422
    engine = make_engine(tmp_path / "bot", BOT.replace("URL", endpoint))
    assert say(engine, "order?").texts == ["The order system is not answering."]
    assert len(Endpoint.requests) == 1
