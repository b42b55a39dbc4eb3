"""Rules test a message's attachments (``attachments.size() > 0``, kind, type) and plugins receive them."""

from __future__ import annotations

import sys
import textwrap

import pytest

from clawline.messages import Attachment
from tests.helpers.plugins import manifest, write_manifest

from .helpers import BASE, make_engine, say

PHOTO = Attachment(id="a" * 32, kind="image", content_type="image/png", size=2048, name="cat.png")
VOICE = Attachment(id="b" * 32, kind="audio", content_type="audio/ogg", size=9000)

BOT = (
    BASE
    + """
responses:
  photo: ["Nice picture ({attachments_note})"]
  voice: ["I got your voice note."]
  files: ["Got files."]
  text_only: ["Text only."]
rules:
  - name: photo
    when: attachments.size() > 0 && attachments.exists(a, a.kind == "image" && a.content_type == "image/png")
    then: [{reply: photo}]
  - name: voice
    when: attachments.exists(a, a.kind == "audio") && message.attachments[0].size < 10000
    then: [{reply: voice}]
  - name: other_files
    when: size(attachments) > 0
    then: [{reply: files}]
  - name: text_only
    when: attachments.size() == 0
    then: [{reply: text_only}]
"""
).replace("{attachments_note}", "{text}")


def test_a_rule_sees_an_image_attachment_by_kind_and_type(tmp_path):
    engine = make_engine(tmp_path / "bot", BOT)
    reply = say(engine, "look", attachments=[PHOTO])
    assert reply.trace == ["photo"]
    assert reply.texts == ["Nice picture (look)"]


def test_a_rule_reads_an_attachments_size_through_message(tmp_path):
    engine = make_engine(tmp_path / "bot", BOT)
    assert say(engine, "listen", attachments=[VOICE]).trace == ["voice"]


def test_a_message_without_attachments_has_an_empty_list(tmp_path):
    engine = make_engine(tmp_path / "bot", BOT)
    assert say(engine, "hello").trace == ["text_only"]


def test_an_attachment_no_specific_rule_matches_falls_to_the_general_one(tmp_path):
    engine = make_engine(tmp_path / "bot", BOT)
    pdf = Attachment(id="c" * 32, kind="file", content_type="application/pdf", size=10)
    assert say(engine, "here", attachments=[pdf]).trace == ["other_files"]


PLUGIN_CODE = """
from clawline.plugins.base import BasePlugin, PluginResult


class Describer(BasePlugin):
    name = "describer"

    async def action(self, ctx, params):
        described = ", ".join(f"{a.kind} {a.content_type} {a.size} {a.url}" for a in ctx.message.attachments)
        return PluginResult(replies=[described or "nothing attached"])
"""


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    name = f"attachplugins_{tmp_path.name.replace('-', '_')}"
    package = tmp_path / "pkgs" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN_CODE), encoding="utf-8")
    write_manifest(package / "__init__.py", manifest("Describer", "describer", ["action"]))
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    yield name
    sys.modules.pop(name, None)


def test_a_plugin_receives_the_attachments_in_its_context(tmp_path, plugin_module):
    bot = (
        BASE
        + f"""
plugins:
  - {{module: "{plugin_module}", class: "Describer"}}
rules:
  - name: describe
    when: "true"
    then: [{{plugin: describer}}]
"""
    )
    engine = make_engine(tmp_path / "bot", bot)
    stored = PHOTO.model_copy(update={"url": "s3://bucket/uploads/x/" + "a" * 32})
    reply = say(engine, "what is this", attachments=[stored])
    assert reply.texts == [f"image image/png 2048 s3://bucket/uploads/x/{'a' * 32}"]
    assert say(engine, "and now").texts == ["nothing attached"]
