"""The console's and /metrics' numbers come from EMF lines exactly as the functions print them."""

from __future__ import annotations

import io
import json
import re
import threading
from pathlib import Path

from local.telemetry import EmfTap, MetricsStore

ROOT = Path(__file__).resolve().parents[2]


def emf(channel: str | None = None, plugin: str | None = None, **metrics: float | list[float]) -> dict[str, object]:
    dims = [["channel", "service"], ["service"]] if channel else [["service", "plugin"]] if plugin else [["service"]]
    doc: dict[str, object] = {
        "_aws": {
            "Timestamp": 1,
            "CloudWatchMetrics": [
                {
                    "Namespace": "Clawline",
                    "Dimensions": dims,
                    "Metrics": [{"Name": n, "Unit": "Milliseconds" if "Latency" in n else "Count"} for n in metrics],
                }
            ],
        },
        "service": "clawline",
        **metrics,
    }
    if channel:
        doc["channel"] = channel
    if plugin:
        doc["plugin"] = plugin
        doc["channel"] = "mqtt"
    return doc


def test_prometheus_text_has_turns_errors_a_latency_histogram_and_plugin_calls_by_plugin_and_channel() -> None:
    store = MetricsStore()
    store.add(emf("http", Turns=1, TurnLatency=[40.0]))
    store.add(emf("http", Turns=1, Errors=1, TurnLatency=[300.0]))
    store.add(emf(plugin="weather", PluginCalls=2, PluginError=1, PluginLatency=[5.0, 7.0]))
    text = store.prometheus()
    assert 'clawline_turns_total{channel="http"} 2' in text
    assert 'clawline_errors_total{channel="http"} 1' in text
    assert 'clawline_turn_latency_seconds_bucket{channel="http",le="0.05"} 1' in text
    assert 'clawline_turn_latency_seconds_bucket{channel="http",le="0.5"} 2' in text
    assert 'clawline_turn_latency_seconds_bucket{channel="http",le="+Inf"} 2' in text
    assert 'clawline_turn_latency_seconds_count{channel="http"} 2' in text
    assert 'clawline_plugin_calls_total{plugin="weather",channel="mqtt"} 2' in text
    assert 'clawline_plugin_errors_total{plugin="weather",channel="mqtt"} 1' in text
    # Every sample line is `name{labels} number` and every family is declared before its samples.
    for line in text.splitlines():
        assert line.startswith("# ") or re.fullmatch(r"[a-z_]+(\{[^}]*\})? [0-9.e+-]+", line), line
    snapshot = store.snapshot()
    assert snapshot["channels"]["http"]["success_rate"] == 50.0
    assert snapshot["channels"]["http"]["p99"] == 300.0


def test_label_values_are_escaped() -> None:
    store = MetricsStore()
    store.add(emf(plugin='we"ird\\', PluginCalls=1))
    assert 'plugin="we\\"ird\\\\"' in store.prometheus()


def test_tap_takes_emf_lines_written_in_pieces_from_threads_and_passes_the_rest_through() -> None:
    store, out = MetricsStore(), io.StringIO()
    tap = EmfTap(store, out, echo=False)

    def turn(i: int) -> None:
        tap.write(json.dumps(emf("mqtt", Turns=1), separators=(",", ":")))  # print() writes the newline apart
        tap.write("\n")
        tap.write(f"a log line {i}\n")

    threads = [threading.Thread(target=turn, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.snapshot()["channels"]["mqtt"]["turns"] == 20
    assert sorted(out.getvalue().splitlines()) == sorted(f"a log line {i}" for i in range(20))


def test_the_vendored_chart_library_is_the_pinned_version_with_its_licence() -> None:
    static = ROOT / "local" / "console" / "static"
    (library,) = static.glob("chart-*.umd.min.js")
    version = library.name.split("-")[1].removesuffix(".umd.min.js")
    assert f"Chart.js v{version}" in library.read_text(encoding="utf-8")[:200]
    assert "MIT License" in (static / f"chart-{version}.LICENSE.md").read_text(encoding="utf-8")
    assert f"/_console/static/{library.name}" in (static / "index.html").read_text(encoding="utf-8")


def test_console_refuses_bad_input_with_clear_errors() -> None:
    import pytest
    from starlette.applications import Starlette
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

    from local.console import Console

    store = MetricsStore()
    store.add(emf("http", Turns=1))
    client = TestClient(Starlette(routes=Console(store, {}, traced=True).routes()))
    bad = client.get("/_console/api/turns?after=abc")
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_input"
    assert client.get("/_console/api/turns?after=0").json() == {"turns": []}
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert 'clawline_turns_total{channel="http"} 1' in metrics.text
    for thing in ("", "a/b", "x" * 129, "+", "#"):
        with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect(f"/_console/mqtt?thing={thing}"):
            pass
        assert closed.value.code == 1008
