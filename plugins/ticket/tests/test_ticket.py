"""Tickets are opened on a loopback help desk speaking the Zendesk and Jira shapes; the id comes back to the user."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest

from clawline import aws
from tests.helpers.loopback import serve
from tests.unit.engine.helpers import make_engine, say

BOT = """
name: support
settings: {plugin_error: failed}
slots:
  ticket_id: {type: text}
plugins:
  - module: plugins.ticket
    class: TicketPlugin
    config: {api: API, base_url: "URL", secret: test/helpdesk, slot: ticket_id, project: OPS}
rules:
  - {name: open_ticket, when: text.contains("ticket"), then: [{plugin: ticket}]}
  - {name: other, when: "true", then: [{reply: hello}]}
responses:
  failed: ["I could not open a ticket right now."]
"""


class HelpDesk(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, dict[str, Any], str]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answer: dict[str, Any]
        HelpDesk.seen.append((self.path, body, self.headers["Authorization"]))
        if self.path == "/api/v2/tickets.json":
            status, answer = 201, {"ticket": {"id": 35436, "subject": body["ticket"]["subject"]}}
        elif self.path == "/rest/api/2/issue":
            status, answer = 201, {"id": "10000", "key": "OPS-24", "self": "http://x/rest/api/2/issue/10000"}
        else:
            status, answer = 404, {"error": "not found"}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def helpdesk(moto: str) -> Iterator[str]:
    secrets = aws.client("secretsmanager")
    with contextlib.suppress(secrets.exceptions.ResourceExistsException):
        secrets.create_secret(Name="test/helpdesk", SecretString="agent@example.com/token:abc123")
    HelpDesk.seen = []
    with serve(HelpDesk) as url:
        yield url


@pytest.mark.parametrize(
    ("api", "ticket_id", "path"),
    [("zendesk", "35436", "/api/v2/tickets.json"), ("jira", "OPS-24", "/rest/api/2/issue")],
)
def test_a_ticket_is_opened_with_the_conversation_and_its_id_returned(tmp_path, helpdesk, api, ticket_id, path):
    engine = make_engine(tmp_path / "bot", BOT.replace("API", api).replace("URL", helpdesk))
    say(engine, "my invoice is wrong", sender="ann")
    reply = say(engine, "please open a ticket", sender="ann")
    assert reply.texts == [f"I opened ticket {ticket_id} for you; our team will get back to you."]
    assert reply.slots == {"ticket_id": ticket_id}
    [(seen_path, body, auth)] = HelpDesk.seen
    assert seen_path == path
    assert base64.b64decode(auth.removeprefix("Basic ")).decode() == "agent@example.com/token:abc123"
    text = json.dumps(body)
    assert "my invoice is wrong" in text and "please open a ticket" in text


def test_a_help_desk_error_gets_the_plugin_error_reply(tmp_path, helpdesk):
    engine = make_engine(tmp_path / "bot", BOT.replace("API", "zendesk").replace("URL", helpdesk + "/nope"))
    assert say(engine, "ticket please").texts == ["I could not open a ticket right now."]
