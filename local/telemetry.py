"""What the local runtime learns from the functions' own EMF lines: the console's charts and ``GET /metrics``.

The functions print EMF documents to stdout exactly as in Lambda (CloudWatch reads the same lines from the log
stream). :class:`EmfTap` sits on this process's stdout, hands every EMF line to :class:`MetricsStore` and passes
the rest through; EMF lines are echoed only with ``clawline dev --emf``. So the console and a Prometheus scrape
see what CloudWatch would see, not a second set of counters kept beside it.

Only in-process functions (the default) are tapped: with ``--isolated`` or ``--rie`` each function writes to
the terminal from its own process.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from collections import defaultdict, deque
from typing import Any, TextIO

#: Prometheus histogram buckets for TurnLatency, in seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: How many recent latencies per channel the percentiles are computed over.
WINDOW = 500


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile, as CloudWatch computes pNN on raw data points."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]


class MetricsStore:
    """Counters and latency samples from EMF documents, by channel and plugin. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.documents = 0
        self.emf_bytes = 0
        # (metric, channel) -> sum; channel "" when the document had none (the authorizer).
        self.counts: dict[tuple[str, str], float] = defaultdict(float)
        self.plugin_counts: dict[tuple[str, str, str], float] = defaultdict(float)  # (metric, plugin, channel)
        self.latency: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=WINDOW))
        self.latency_buckets: dict[str, list[int]] = defaultdict(lambda: [0] * len(LATENCY_BUCKETS))
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.latency_count: dict[str, int] = defaultdict(int)
        self.plugin_latency: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=WINDOW))

    def add(self, doc: dict[str, Any], size: int = 0) -> None:
        directives = doc.get("_aws", {}).get("CloudWatchMetrics", [])
        channel = str(doc.get("channel", ""))
        plugin = doc.get("plugin")
        with self._lock:
            self.documents += 1
            self.emf_bytes += size
            for directive in directives:
                for metric in directive.get("Metrics", []):
                    name = metric["Name"]
                    raw = doc.get(name, [])
                    values = [float(v) for v in (raw if isinstance(raw, list) else [raw])]
                    if plugin is not None:
                        if name == "PluginLatency":
                            self.plugin_latency[str(plugin)].extend(values)
                        else:
                            self.plugin_counts[(name, str(plugin), channel)] += sum(values)
                    elif name == "TurnLatency":
                        self._latency(channel, values)
                    elif metric.get("Unit") == "Count":
                        self.counts[(name, channel)] += sum(values)

    def _latency(self, channel: str, values: list[float]) -> None:
        for value in values:
            self.latency[channel].append(value)
            self.latency_sum[channel] += value / 1000
            self.latency_count[channel] += 1
            buckets = self.latency_buckets[channel]
            for i, bound in enumerate(LATENCY_BUCKETS):
                if value / 1000 <= bound:
                    buckets[i] += 1

    def snapshot(self) -> dict[str, Any]:
        """What the console charts: totals, success rate and latency percentiles per channel, plugin calls."""
        with self._lock:
            channels = sorted({c for (_m, c) in self.counts if c} | set(self.latency))
            per_channel = {}
            for channel in channels:
                turns = self.counts.get(("Turns", channel), 0.0)
                errors = self.counts.get(("Errors", channel), 0.0)
                recent = list(self.latency[channel])
                per_channel[channel] = {
                    "turns": turns,
                    "errors": errors,
                    "success_rate": _success(turns, errors),
                    "p50": percentile(recent, 50),
                    "p95": percentile(recent, 95),
                    "p99": percentile(recent, 99),
                }
            turns = sum(v for (m, _c), v in self.counts.items() if m == "Turns")
            errors = sum(v for (m, _c), v in self.counts.items() if m == "Errors")
            plugins: dict[str, dict[str, dict[str, float]]] = {}
            for (metric, plugin, channel), value in self.plugin_counts.items():
                plugins.setdefault(plugin, {}).setdefault(channel, {})[metric] = value
            totals: dict[str, float] = defaultdict(float)
            for (metric, _c), value in self.counts.items():
                totals[metric] += value
            return {
                "time": time.time(),
                "documents": self.documents,
                "emf_bytes": self.emf_bytes,
                "overall": {"turns": turns, "errors": errors, "success_rate": _success(turns, errors)},
                "channels": per_channel,
                "plugins": plugins,
                "plugin_p99": {p: percentile(list(v), 99) for p, v in self.plugin_latency.items()},
                "totals": dict(totals),
            }

    def prometheus(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])

        with self._lock:
            family("clawline_turns_total", "counter", "Turns answered (EMF Turns).")
            for (metric, channel), value in sorted(self.counts.items()):
                if metric == "Turns":
                    lines.append(f'clawline_turns_total{{channel="{_esc(channel)}"}} {_num(value)}')
            family("clawline_errors_total", "counter", "Server-side errors (EMF Errors).")
            for (metric, channel), value in sorted(self.counts.items()):
                if metric == "Errors":
                    lines.append(f'clawline_errors_total{{channel="{_esc(channel)}"}} {_num(value)}')
            family("clawline_events_total", "counter", "Every other EMF count, by metric name and channel.")
            for (metric, channel), value in sorted(self.counts.items()):
                if metric not in ("Turns", "Errors"):
                    labels = f'metric="{_esc(metric)}",channel="{_esc(channel)}"'
                    lines.append(f"clawline_events_total{{{labels}}} {_num(value)}")
            family("clawline_turn_latency_seconds", "histogram", "Turn latency (EMF TurnLatency).")
            for channel in sorted(self.latency_count):
                ch = _esc(channel)
                for bound, count in zip(LATENCY_BUCKETS, self.latency_buckets[channel], strict=True):
                    lines.append(f'clawline_turn_latency_seconds_bucket{{channel="{ch}",le="{bound}"}} {count}')
                lines.append(
                    f'clawline_turn_latency_seconds_bucket{{channel="{ch}",le="+Inf"}} {self.latency_count[channel]}'
                )
                lines.append(f'clawline_turn_latency_seconds_sum{{channel="{ch}"}} {self.latency_sum[channel]:.6f}')
                lines.append(f'clawline_turn_latency_seconds_count{{channel="{ch}"}} {self.latency_count[channel]}')
            family("clawline_plugin_calls_total", "counter", "Plugin hook calls (EMF PluginCalls by plugin).")
            for (metric, plugin, channel), value in sorted(self.plugin_counts.items()):
                if metric == "PluginCalls":
                    labels = f'plugin="{_esc(plugin)}",channel="{_esc(channel)}"'
                    lines.append(f"clawline_plugin_calls_total{{{labels}}} {_num(value)}")
            family("clawline_plugin_errors_total", "counter", "Failed plugin calls (EMF PluginError by plugin).")
            for (metric, plugin, channel), value in sorted(self.plugin_counts.items()):
                if metric == "PluginError":
                    labels = f'plugin="{_esc(plugin)}",channel="{_esc(channel)}"'
                    lines.append(f"clawline_plugin_errors_total{{{labels}}} {_num(value)}")
        return "\n".join(lines) + "\n"


def _success(turns: float, errors: float) -> float | None:
    # The dashboard's formula: 100 * (1 - errors / max(turns, 1)).
    return None if turns == 0 and errors == 0 else 100 * (1 - errors / max(turns, 1))


def _num(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class EmfTap:
    """A stdout that feeds EMF lines to a store (echoing them only if asked) and passes everything else through.

    Lines are assembled per thread: ``print`` writes a document and its newline in two calls, and the functions
    print from their own worker threads.
    """

    def __init__(self, store: MetricsStore, target: TextIO, *, echo: bool) -> None:
        self.store = store
        self.target = target
        self.echo = echo
        self._pending = threading.local()

    def write(self, text: str) -> int:
        buffered = getattr(self._pending, "text", "") + text
        *lines, rest = buffered.split("\n")
        self._pending.text = rest
        for line in lines:
            self._line(line)
        return len(text)

    def _line(self, line: str) -> None:
        if line.startswith('{"_aws"'):
            try:
                doc = json.loads(line)
            except ValueError:
                doc = None
            if isinstance(doc, dict):
                self.store.add(doc, len(line) + 1)
                if not self.echo:
                    return
        self.target.write(line + "\n")

    def flush(self) -> None:
        self.target.flush()

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding... of the real stream
        return getattr(self.target, name)

    def install(self) -> None:
        sys.stdout = self  # type: ignore[assignment]

    def uninstall(self) -> None:
        if sys.stdout is self:
            sys.stdout = self.target
