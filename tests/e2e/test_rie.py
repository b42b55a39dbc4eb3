"""`clawline dev --rie`: the `sam build` output of every function, each in its own Runtime Interface Emulator,
answers on every protocol (a dependency missing from the layers, or a path the emulator cannot see, fails here)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from local.functions import RieFunction
from local.runtime import RuntimeThread
from tests.e2e.conftest import assert_answers_every_protocol, e2e_options
from tests.helpers.events import load_event
from tests.package.runtime import SamBuild, install_awslambdaric
from tests.package.tools import require_python313

pytestmark = pytest.mark.e2e


def test_the_built_functions_in_the_emulator_answer_every_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    require_python313()
    install_awslambdaric()
    build = SamBuild("x86_64").run()
    # A relative --build-dir, as a user types it: the emulator runs in each function's folder.
    monkeypatch.chdir(build.directory.parent)
    with RuntimeThread(e2e_options(rie=True, build_dir=build.directory.relative_to(build.directory.parent))) as rt:
        assert sorted(name for name, f in rt.functions.items() if isinstance(f, RieFunction)) == [
            "AuthorizerFunction",
            "HttpFunction",
            "MqttFunction",
            "ReminderFunction",
            "WebSocketFunction",
        ]
        assert_answers_every_protocol(rt, "rie")
        # The banner lists each emulator's Lambda invoke endpoint, and that endpoint answers a direct invoke.
        banner = rt.banner()
        emulators = {name: f.url for name, f in rt.functions.items() if isinstance(f, RieFunction)}
        for name, url in emulators.items():
            assert f"{name:<20} {url}" in banner
        request = urllib.request.Request(
            emulators["HttpFunction"], data=json.dumps(load_event("http/health.json")).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.loads(response.read())["statusCode"] == 200
