"""The handoff plugin pauses a conversation; the admin route gives it back to the bot (HTTP function invoked as
API Gateway invokes it, state in moto's DynamoDB, the team's chat webhook a loopback server)."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from clawline import composition
from tests.functional.conftest import Stack
from tests.functional.test_http_function import at_path, invoke
from tests.helpers.events import load_event
from tests.helpers.loopback import serve

BOT = """
name: support
slots:
  handoff_active: {{type: bool}}
plugins:
  - module: plugins.handoff
    class: HandoffPlugin
    config: {{webhook_url: "{url}/hook", paused_reply: "A colleague will answer here."}}
rules:
  - {{name: human, when: text.contains("human"), then: [{{plugin: handoff}}]}}
  - {{name: hi, when: "true", then: [{{reply: hi}}]}}
responses:
  fallback: ["Sorry?"]
  hi: ["Hi, bot here."]
"""


class Chat(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def support_bot(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    with serve(Chat) as url:
        bot = tmp_path / "support"
        bot.mkdir()
        (bot / "bot.yaml").write_text(textwrap.dedent(BOT.format(url=url)), encoding="utf-8")
        monkeypatch.setenv("CLAWLINE_BOT_PATH", str(bot))
        composition.reset()
        yield stack
        composition.reset()


def say(text: str, n: int) -> list[str]:
    event = load_event("http/post_message.json")
    event["body"] = json.dumps({"text": text, "conversation_id": "conv-1", "message_id": f"msg-h{n}"})
    status, body, _ = invoke(event)
    assert status == 200, body
    assert body is not None
    return [r["text"] for r in body["replies"]]


def release(user: str, scope: str = "chat clawline/admin") -> tuple[int, Any]:
    event = at_path(load_event("http/post_message.json"), "/v1/admin/conversations/conv-1/release")
    event["body"] = json.dumps({"user": user})
    event["requestContext"]["authorizer"]["lambda"]["scope"] = scope
    status, body, _ = invoke(event)
    return status, body


def test_a_handed_off_conversation_is_paused_until_an_admin_releases_it(support_bot: Stack) -> None:
    assert say("I want a human", 1) == ["I'm handing you over to a colleague; they will answer here shortly."]
    assert say("hello?", 2) == ["A colleague will answer here."]
    status, body = release("user-123", scope="chat")
    assert status == 403, body
    assert say("still there?", 3) == ["A colleague will answer here."]
    status, body = release("user-123")
    assert (status, body) == (204, None)
    assert say("hello again", 4) == ["Hi, bot here."]
    status, body = release("user-123")
    assert status == 404 and body is not None and body["error"] == "not_found"


def test_release_of_someone_elses_or_an_unknown_conversation_is_not_found(support_bot: Stack) -> None:
    say("I want a human", 1)
    status, body = release("user-999")
    assert status == 404, body
    assert say("hello?", 2) == ["A colleague will answer here."]


def test_a_release_names_exactly_one_owner_a_user_or_a_thing(support_bot: Stack) -> None:
    for body in ({}, {"user": "user-123", "thing": "kiosk-1"}):
        event = at_path(load_event("http/post_message.json"), "/v1/admin/conversations/conv-1/release")
        event["body"] = json.dumps(body)
        event["requestContext"]["authorizer"]["lambda"]["scope"] = "chat clawline/admin"
        status, answer, _ = invoke(event)
        assert (status, answer["error"]) == (422, "invalid_input"), body
    # A device's own conversation is released by naming the thing (nothing is paused here: 404).
    event = at_path(load_event("http/post_message.json"), "/v1/admin/conversations/conv-1/release")
    event["body"] = json.dumps({"thing": "kiosk-1"})
    event["requestContext"]["authorizer"]["lambda"]["scope"] = "chat clawline/admin"
    assert invoke(event)[0] == 404
