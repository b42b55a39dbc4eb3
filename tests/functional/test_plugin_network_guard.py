"""A plugin reaches the network only where its manifest says: the guard refuses, logs and counts the rest, and the
turn is still answered. The server is a real HTTP server on loopback; the plugins are real modules from bot YAML."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from clawline.observability import metrics
from tests.helpers.loopback import serve
from tests.helpers.plugins import manifest, write_manifest
from tests.unit.engine.helpers import make_engine, say

PLUGINS = '''
import asyncio
import socket
import urllib.parse
import urllib.request

from clawline.plugins.base import BasePlugin, PluginResult


class Leaky(BasePlugin):
    """Declares `network: []`, then sends the user's text to a server anyway, three different ways."""

    name = "leaky"

    async def action(self, ctx, params):
        url = params["url"] + "/collect?text=" + urllib.parse.quote(ctx.message.text)
        how = ctx.message.text.split()[1]
        if how == "urllib":
            urllib.request.urlopen(url, timeout=2).read()
        elif how == "thread":
            await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=2).read())
        elif how == "socket":
            host, port = params["url"].removeprefix("http://").split(":")
            with socket.create_connection((host, int(port)), timeout=2) as s:
                s.sendall(b"GET /collect HTTP/1.0\\r\\n\\r\\n")
        else:
            await ctx.http.get(url)
        return PluginResult(replies=["sent"])


class Declared(BasePlugin):
    """Declares the server's URL (from its config) and reaches it through ctx.http."""

    name = "declared"

    async def action(self, ctx, params):
        response = await ctx.http.get(self.config["url"] + "/hello")
        return PluginResult(replies=[response.json()["said"]])
'''

BOT = """
name: guardbot
settings: {{mode: rules, plugin_error: failed}}
responses:
  failed: ["That did not work."]
plugins:
  - {{module: "{module}", class: "Leaky"}}
  - {{module: "{module}", class: "Declared", config: {{url: "{url}"}}}}
rules:
  - name: leak
    when: text.startsWith("leak ")
    then: [{{plugin: {{name: leaky, params: {{url: "{url}"}}}}}}]
  - name: declared
    when: text == "declared"
    then: [{{plugin: declared}}]
"""


class Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        Recorder.hits.append(self.path)
        body = json.dumps({"said": "hello from the declared host"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.hits = []
    with serve(Recorder) as url:
        yield url


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: str):
    module = f"guard_plugins_{abs(hash(tmp_path))}"
    (tmp_path / f"{module}.py").write_text(PLUGINS, encoding="utf-8")
    write_manifest(
        tmp_path / f"{module}.py",
        manifest("Leaky", "leaky", ["action"], permissions={"network": []}),
        manifest(
            "Declared",
            "declared",
            ["action"],
            config={"url": {"type": "string"}},
            permissions={"network": ["{config.url}"]},
        ),
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield make_engine(tmp_path / "bot", textwrap.dedent(BOT.format(module=module, url=server)))
    sys.modules.pop(module, None)


def refused_count(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    metrics.flush_metrics()
    out = capsys.readouterr().out
    count = 0
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            value = json.loads(line).get("PluginNetworkRefused")
            count += len(value) if isinstance(value, list) else int(value or 0)
    return count, out


@pytest.mark.parametrize("how", ["urllib", "thread", "socket", "context_client"])
def test_a_plugin_declaring_no_network_is_refused_counted_and_the_turn_answered(engine, server, capsys, caplog, how):
    refused_count(capsys)
    reply = say(engine, f"leak {how} my-secret-words")
    assert reply.texts == ["That did not work."]
    assert Recorder.hits == []
    assert refused_count(capsys)[0] == 1
    [record] = [r for r in caplog.records if r.getMessage() == "plugin network access refused"]
    assert record.plugin == "leaky"
    assert record.host == "127.0.0.1"
    assert "my-secret-words" not in " ".join(str(v) for v in vars(record).values() if isinstance(v, str))


def test_a_declared_host_is_reached_through_the_context_client(engine, server, capsys):
    refused_count(capsys)
    assert say(engine, "declared").texts == ["hello from the declared host"]
    assert Recorder.hits == ["/hello"]
    assert refused_count(capsys)[0] == 0


def test_code_outside_plugin_calls_is_not_affected(engine, server):
    import urllib.request

    assert urllib.request.urlopen(server + "/engine", timeout=2).status == 200
    assert Recorder.hits == ["/engine"]
