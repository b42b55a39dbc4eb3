"""The local console in a real browser: Debian's Chromium driven by Playwright, against a `clawline dev` process.

It chats over the WebSocket API, reads the turn's trace, publishes as an MQTT device and sees the reply, and
sees the charts (computed from the functions' EMF lines) and ``/metrics`` move. A screenshot of the console is
saved in the test's output directory (``make browser`` installs Chromium; ``make test`` depends on it).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("CLAWLINE_CHROMIUM", "/usr/bin/chromium"))
#: Headless, no sandbox (tests may run as root), and nothing that reaches the network.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--metrics-recording-only",
]
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`clawline dev` as a user starts it, on free ports; yields the console URL printed in its banner."""
    log_path = tmp_path_factory.mktemp("clawline-dev") / "dev.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "engine"), str(ROOT)])}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "clawline", "dev", "--port", "0", "--mqtt-port", "0", "--moto-port", "0"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        url = None
        while url is None:
            found = re.search(r"Console\s+(http://127\.0\.0\.1:\d+/_console)", log_path.read_text())
            if found:
                url = found[1]
            elif process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"clawline dev did not start:\n{log_path.read_text()[-3000:]}")
            else:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium (as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def chart_points(page: Any, canvas: str) -> int:
    """Non-empty data points across a Chart.js chart's datasets."""
    count: int = page.evaluate(
        """(id) => Chart.getChart(id).data.datasets
                 .flatMap((d) => d.data).filter((v) => v !== null && v !== undefined && v !== 0).length""",
        canvas,
    )
    return count


def test_console_chats_traces_publishes_as_a_device_and_charts_the_emf_stream(
    dev_server: str, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1500})
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(dev_server)
    chat = page.get_by_test_id("chat-log")
    expect(chat).to_contain_text("connected to ws://", timeout=TIMEOUT_MS)

    # Chat over the real WebSocket API: the reply, then its trace.
    page.get_by_test_id("chat-input").fill("hello there")
    page.get_by_test_id("chat-send").click()
    expect(chat.locator(".bot")).to_contain_text("Slice", timeout=TIMEOUT_MS)
    trace = page.get_by_test_id("trace").first
    expect(trace.locator("[data-field=intent]")).to_contain_text("greet")
    expect(trace.locator("[data-field=message]")).to_contain_text("[websocket] console: hello there")
    expect(trace.locator("[data-field='rules considered']")).to_contain_text("greet")
    expect(trace.locator("[data-field=fired]")).to_contain_text("greet")
    expect(trace.locator("[data-field=latency]")).to_contain_text(re.compile(r"\d+(\.\d+)? ms"))

    # A plugin call: the trace lists it with its time, the plugin chart gets a bar for (plugin, channel).
    page.get_by_test_id("chat-input").fill("cancel my order")
    page.get_by_test_id("chat-send").click()
    expect(page.get_by_test_id("trace").first.locator("[data-field=plugins]")).to_contain_text(
        re.compile(r"sample\.action \d+\.\d ms")
    )

    # An MQTT device: publish to clawline/{thing}/in through the bridge, the reply arrives on /out.
    page.get_by_test_id("thing").fill("console-kitchen-1")
    page.get_by_test_id("device-connect").click()
    device = page.get_by_test_id("device-log")
    expect(device).to_contain_text("subscribed to clawline/console-kitchen-1/out")
    page.get_by_test_id("device-input").fill("hello there")
    page.get_by_test_id("device-send").click()
    expect(device.locator(".bot")).to_contain_text("clawline/console-kitchen-1/out: Hi!", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("trace").first.locator("[data-field=message]")).to_contain_text(
        "[mqtt] console-kitchen-1: hello there"
    )

    # The charts move with the EMF stream: three turns, on two channels, one plugin call.
    page.wait_for_function("() => Number(document.body.dataset.turns) >= 3")
    page.wait_for_function("() => Chart.getChart('chart-plugins').data.labels.includes('sample · websocket')")
    page.wait_for_function("() => Chart.getChart('chart-success').data.datasets.some((d) => d.label === 'mqtt')")
    assert chart_points(page, "chart-latency") > 0
    assert chart_points(page, "chart-success") > 0

    # The API page is rendered from the OpenAPI document the HTTP function serves.
    page.locator("#api-tab").click()
    expect(page.get_by_test_id("api-doc")).to_contain_text("POST /v1/messages")

    # /metrics tells a scraper the same story.
    base = dev_server.removesuffix("/_console")
    metrics = httpx.get(f"{base}/metrics", timeout=10).text
    assert re.search(r'clawline_turns_total\{channel="websocket"\} 2', metrics)
    assert re.search(r'clawline_turns_total\{channel="mqtt"\} 1', metrics)
    assert 'clawline_plugin_calls_total{plugin="sample",channel="websocket"} 1' in metrics

    page.locator("#api").evaluate("(el) => { el.hidden = true; }")
    page.screenshot(path=str(tmp_path / "console.png"), full_page=True)
    assert (tmp_path / "console.png").stat().st_size > 10_000
    if os.environ.get("CLAWLINE_CONSOLE_SCREENSHOT"):
        page.screenshot(path=os.environ["CLAWLINE_CONSOLE_SCREENSHOT"], full_page=True)
    assert not errors, errors
