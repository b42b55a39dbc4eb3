"""The documented form example (docs/examples/bots/transfer) passes its stories against the local runtime
through `clawline test --target http` and `--target websocket`: validation, a cross-slot check, roles, a bool
slot answered by an intent, corrections, confirmation and the change / cancel step, on a deployed-shaped stack.
The functions run in processes of their own (``isolated``), so this runtime's bot does not meet the session's."""

from __future__ import annotations

from pathlib import Path

import pytest

from clawline.cli import main
from local.runtime import RuntimeThread
from tests.e2e.conftest import e2e_options

pytestmark = pytest.mark.e2e

TRANSFER = Path(__file__).resolve().parents[2] / "docs" / "examples" / "bots" / "transfer"


def test_the_form_example_passes_its_stories_over_http_and_websocket(capsys: pytest.CaptureFixture[str]) -> None:
    with RuntimeThread(e2e_options(isolated=True, bot=TRANSFER)) as rt:
        token = rt.token("story-user")
        http = main(["test", str(TRANSFER), "--target", "http", "--url", rt.http_url, "--token", token])
        http_out = capsys.readouterr().out
        websocket = main(["test", str(TRANSFER), "--target", "websocket", "--url", rt.ws_url, "--token", token])
        websocket_out = capsys.readouterr().out
    assert http == 0, http_out
    assert "7 passed, 0 failed" in http_out
    assert websocket == 0, websocket_out
    assert "7 passed, 0 failed" in websocket_out
    # A WebSocket reply carries the slots: the slot expectations were checked there, not skipped.
    assert "slots not reported" not in websocket_out
