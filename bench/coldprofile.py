"""Where a cold first turn spends its CPU: ``python -m bench.coldprofile [HttpFunction WebSocketFunction ...]``.

A companion to ``bench coldstart`` (same layout, environment and loopback stack; one sample, not a benchmark):
each function is imported in a fresh ``python3.13 -S -X importtime`` process, then its first invoke runs under
cProfile. It prints, per function and turn, the CPU of the import and of the first invoke, the modules the first
invoke imports (self + children microseconds from ``-X importtime``), and the invoke's most expensive calls
(cumulative). ``COLDPROFILE_SOURCE=1`` lays the worktree's ``layers/engine/clawline`` over the built one, so an
engine change can be profiled without another ``sam build`` (its bytecode is written on the first, dropped run).
Nothing is written to BENCHMARKS.md: the numbers it prints are for finding costs, ``bench coldstart`` measures them.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.coldstart import (
    ARCH,
    CONTEXT,
    SNAPSTART_SERVICES,
    function_env,
    loopback_stack,
    probe,
    turn_events,
)
from tests.package.runtime import FUNCTIONS, LAYERS, LambdaLayout, SamBuild
from tests.package.tools import ROOT, require_python313

#: The turns profiled: one the rules answer (MQTT's "ping"), one that classifies.
TURNS = {"rules": "ping", "nlu": "hello there"}
TOP = int(os.environ.get("COLDPROFILE_TOP", "30"))

PROBE = """
import cProfile, io, json, pstats, sys, time
c0 = time.process_time()
import {module} as handler_module
c1 = time.process_time()
print("-- invoke --", file=sys.stderr, flush=True)
event = json.loads(sys.stdin.read())

{context}

profiler = cProfile.Profile(time.process_time)
profiler.enable()
result = handler_module.handler(event, Context())
profiler.disable()
c2 = time.process_time()
out = io.StringIO()
stats = pstats.Stats(profiler, stream=out)
stats.sort_stats("cumulative").print_stats("/clawline/", {top})
stats.sort_stats("tottime").print_stats({top})
print(json.dumps({{"import_ms": (c1 - c0) * 1000, "invoke_ms": (c2 - c1) * 1000, "result": result,
                  "profile": out.getvalue(), "numpy": "numpy" in sys.modules}}, default=str))
""".replace("{context}", CONTEXT)


def imports_during_invoke(stderr: str) -> list[tuple[int, str]]:
    """(self + children us, module) of the top-level imports the first invoke did (``-X importtime`` lines)."""
    after = stderr.split("-- invoke --", 1)[-1]
    found: list[tuple[int, str]] = []
    for line in after.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if not cumulative.isdigit():
            continue
        depth = (len(name) - len(name.lstrip())) // 2
        if depth == 0:
            found.append((int(cumulative), name.strip()))
    return sorted(found, reverse=True)


def layout_with_source(root: Path, build: SamBuild) -> LambdaLayout:
    layout = LambdaLayout.assemble(root, [build.artifact(layer) for layer in LAYERS])
    if os.environ.get("COLDPROFILE_SOURCE") == "1":
        link = layout.opt / "python" / "clawline"
        link.unlink()
        link.symlink_to(ROOT / "layers" / "engine" / "clawline")
    return layout


def main(names: list[str]) -> None:
    from local.template import Template

    python = require_python313()
    build = SamBuild(ARCH).run()
    template = Template.read(build.directory / "template.yaml")
    wanted = names or [n for n in FUNCTIONS if n in SNAPSTART_SERVICES]
    with tempfile.TemporaryDirectory() as tmp, loopback_stack(template) as (endpoint, recorder_url, overrides):
        layout = layout_with_source(Path(tmp), build)
        for logical_id in wanted:
            function_dir = build.artifact(logical_id)
            env = function_env(template, logical_id, overrides, layout, build, endpoint, recorder_url)
            for kind, text in TURNS.items():
                code = PROBE.format(module=FUNCTIONS[logical_id], function=logical_id, top=TOP)
                for attempt in range(2):  # the first run writes bytecode (source overlay) and warms the page cache
                    got = _probe_importtime(python, code, env, function_dir, turn_events(logical_id, text))
                    if attempt:
                        _report(logical_id, kind, text, got)


def _probe_importtime(python: Path, code: str, env: dict[str, str], cwd: Path, event: Any) -> dict[str, Any]:
    return probe(python, code, {**env, "PYTHONPROFILEIMPORTTIME": "1"}, cwd, event)


def _report(logical_id: str, kind: str, text: str, got: dict[str, Any]) -> None:
    head = f"\n===== {logical_id} ({kind}: {text!r}): import {got['import_ms']:.0f} ms CPU, first invoke "
    print(head + f"{got['invoke_ms']:.0f} ms CPU (profiled), numpy loaded: {got['numpy']}, result: {got['result']}")
    print("-- imported by the first invoke (self + children, ms; importtime adds its own overhead) --")
    for micros, name in imports_during_invoke(got["log"])[:25]:
        print(f"{micros / 1000:8.1f}  {name}")
    print("-- cProfile of the first invoke (CPU) --")
    print(got["profile"])


if __name__ == "__main__":
    main(sys.argv[1:])
    print(json.dumps({"done": True}))
