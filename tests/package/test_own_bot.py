"""Shipping your own bot: `clawline init` a template with a plugin beside the bot, `make build BOT=...` packages that
bot alone, and `clawline invoke` runs every function of the build in the Runtime Interface Emulator with its events
and with a `sam local generate-event` event. An invalid bot fails the build with its problems located.

One build (x86_64, the emulator's architecture) is made per set of inputs and kept under
``.aws-sam/builds/own-bot/<digest>``, like the package tests' own builds; the invocations share it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.package.runtime import BUILD_INPUTS, inputs_digest, locked
from tests.package.tools import ROOT, SAM, require_python313, require_sam, sam_env

pytestmark = pytest.mark.package

TEMPLATE = "order-status"  # its plugin, order_lookup.py, sits beside bot.yaml
BOT = "shop"


def _env(**extra: str) -> dict[str, str]:
    # The engine of this checkout, whichever clone the venv was installed from.
    env = sam_env(PYTHONPATH=str(ROOT / "layers" / "engine"), CLAWLINE_ARCH="x86_64", **extra)
    env["PYTHON313"] = str(require_python313())
    return env


def _make_build(bot: Path, build_dir: Path) -> subprocess.CompletedProcess[str]:
    # -o: the venvs are there already (`make test` made them); never reinstall them from a test.
    command = ["make", "-o", ".venv/bin/.installed", "-o", ".venv-sam/.installed", "build"]
    command += [f"BOT={bot}", "ARCH=x86_64", f"BUILD_DIR={build_dir}"]
    return subprocess.run(command, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=900, check=False)


def clawline(*args: str, stdin: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "clawline", *args],
        cwd=ROOT,
        env=_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def own_build() -> Path:
    """`clawline init` + `make build BOT=...` of the order-status template, once per set of inputs."""
    require_sam()
    parent = ROOT / ".aws-sam" / "builds" / "own-bot"
    digest = inputs_digest((*BUILD_INPUTS, "templates", "Makefile"))[:16]
    directory = parent / digest
    with locked(parent.with_suffix(".lock")):
        stamp = directory / ".clawline-inputs"
        if not stamp.exists():
            shutil.rmtree(directory, ignore_errors=True)
            bot = directory / "src" / BOT
            made = clawline("init", str(bot), "--template", TEMPLATE)
            assert made.returncode == 0, made.stderr
            print("\n[package] make build BOT=... (x86_64): building", file=sys.__stderr__, flush=True)
            done = _make_build(bot, directory / "build")
            assert done.returncode == 0, f"make build failed:\n{(done.stdout + done.stderr)[-6000:]}"
            stamp.write_text(digest)
            for old in sorted(p for p in parent.iterdir() if p.is_dir() and p != directory):
                shutil.rmtree(old, ignore_errors=True)
    return directory / "build"


def test_make_build_packages_the_chosen_bot_alone_with_its_plugin_compiled(own_build: Path) -> None:
    bots = own_build / "BotLayer" / "bots"
    assert sorted(p.name for p in bots.iterdir()) == [BOT]  # not bots/default, not the other templates
    packaged = bots / BOT
    pyc = packaged / "__pycache__" / "order_lookup.cpython-313.pyc"
    assert pyc.is_file(), "the plugin beside the bot has no python3.13 bytecode"
    assert int.from_bytes(pyc.read_bytes()[4:8], "little") == 0b01  # unchecked hash, as the layers' bytecode
    assert (packaged / "model" / "nlu.npz").is_file()
    assert not (packaged / "stories").exists()
    built = (own_build / "template.yaml").read_text(encoding="utf-8")
    parameter = built[built.index("  BotName:") :].split("\n  ", 3)
    assert f"Default: {BOT}" in "\n".join(parameter[:3]), "sam deploy of this build would not point at the bot"
    assert "/opt/bots/${BotName}" in built


def _invoke(build: Path, function: str, event: str, *extra: str) -> tuple[Any, str]:
    done = clawline("invoke", function, "--event", event, "--build-dir", str(build), *extra)
    assert done.returncode == 0, f"{function}:\n{done.stdout}\n{done.stderr[-4000:]}"
    return json.loads(done.stdout), done.stderr


def test_every_function_of_the_build_answers_its_events_in_the_emulator(own_build: Path) -> None:
    calls = {
        "http": ("http", "events/http/post_message.json"),
        "websocket": ("websocket", "events/websocket/message.json"),
        "mqtt": ("mqtt", "events/mqtt/message.json"),
        "authorizer": ("authorizer", "events/authorizer/http_request.json", "--sub", "dana"),
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = dict(zip(calls, pool.map(lambda c: _invoke(own_build, *c), calls.values()), strict=True))

    http, _ = results["http"]
    assert http["statusCode"] == 200
    body = json.loads(http["body"])
    assert body["replies"][0]["text"].startswith("Hi! Give me your order number"), body  # the shop bot answers

    websocket, log = results["websocket"]
    assert websocket["statusCode"] == 200
    posted = [line for line in log.splitlines() if line.startswith("@connections POST")]
    assert posted and "Give me your order number" in posted[-1], log[-3000:]

    mqtt, log = results["mqtt"]
    assert mqtt["status"] == "replied"
    reply_topic = "iot-data publish clawline/kitchen-speaker-1/out"
    published = [line for line in log.splitlines() if line.startswith(reply_topic)]
    assert published and "Give me your order number" in published[-1], log[-3000:]

    authorizer, _ = results["authorizer"]
    # The authorizer context carries the token's expiry, so a cached allow is refused once the token expired.
    assert authorizer["isAuthorized"] is True
    context = authorizer["context"]
    assert {k: context[k] for k in ("sub", "scope")} == {"sub": "dana", "scope": "chat"}
    assert set(context) == {"sub", "scope", "exp"} and int(context["exp"]) > time.time()


def test_a_sam_local_generate_event_http_event_reaches_the_plugin_beside_the_bot(own_build: Path, tmp_path) -> None:
    body = json.dumps({"text": "where is my order AB1234", "conversation_id": "c-sam"})
    generated = subprocess.run(
        [str(SAM), "local", "generate-event", "apigateway", "http-api-proxy", "--method", "POST",
         "--path", "v1/messages", "--stage", "$default", "--body", body],
        cwd=tmp_path, env=sam_env(), capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    event = tmp_path / "event.json"
    event.write_text(generated.stdout, encoding="utf-8")
    assert "jwt" in json.loads(generated.stdout)["requestContext"]["authorizer"]  # SAM's placeholder claims

    result, log = _invoke(own_build, "HttpFunction", str(event), "--sub", "erin")
    assert result["statusCode"] == 200, log[-3000:]
    reply = json.loads(result["body"])
    assert reply["replies"][0]["text"] == "Order AB1234 is shipped: arriving tomorrow."
    assert re.search(r'authorizer context: \{"sub": "erin", "scope": "chat", "exp": "\d+"\}', log), log[-3000:]


def test_an_invalid_bot_fails_make_build_with_its_problems_located(tmp_path) -> None:
    bot = tmp_path / "broken"
    assert clawline("init", str(bot), "--template", "faq").returncode == 0
    text = (bot / "bot.yaml").read_text(encoding="utf-8")
    (bot / "bot.yaml").write_text(text.replace('when: text == "ping"', 'when: intent == "pnig"'), encoding="utf-8")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if 'when: text == "ping"' in row)

    done = _make_build(bot, tmp_path / "build")
    assert done.returncode != 0
    assert f"{bot / 'bot.yaml'}:{line}: rules[0].when: unknown intent 'pnig'" in done.stderr, done.stderr[-3000:]
    assert not (tmp_path / "build" / "BotLayer").exists()


def test_a_plain_sam_build_of_the_bot_layer_validates_the_bot_too(tmp_path) -> None:
    # What `sam build` runs for the bot layer (packaging/Makefile), with the bot named by CLAWLINE_BOT.
    require_python313()
    bot = tmp_path / "broken"
    assert clawline("init", str(bot), "--template", "booking").returncode == 0
    (bot / "bot.yaml").write_text(
        (bot / "bot.yaml").read_text(encoding="utf-8").replace("entity: date ", "entity: dates "), encoding="utf-8"
    )
    makefile = str(ROOT / "packaging" / "Makefile")
    command = ["make", "-f", makefile, "build-BotLayer", f"ARTIFACTS_DIR={tmp_path / 'out'}"]
    done = subprocess.run(
        command, cwd=ROOT / "layers" / "bot", env={**_env(), "CLAWLINE_BOT": str(bot)},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "slots.date.entity: unknown entity 'dates' (did you mean 'date'?)" in done.stderr, done.stderr[-3000:]
    assert "nothing was packaged" in done.stderr
    assert not any((tmp_path / "out" / "bots").glob("*/bot.yaml"))
    assert os.path.isdir(bot)
