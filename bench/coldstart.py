"""Cold import time of each function's handler module from the `sam build` output, on python3.13.

Each sample is a fresh ``python3.13 -S`` process laid out as in Lambda (the function folder first, then
/opt/python assembled from the layers, and Lambda's own environment variables) that imports the handler module
once. "With bytecode" uses the .pyc files the build ships; "without" points ``PYTHONPYCACHEPREFIX`` at an empty
folder and sets ``PYTHONDONTWRITEBYTECODE``, which is what a read-only code folder without .pyc files costs on
every cold start. Also reports artifact sizes.
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import tempfile
import zipfile
from pathlib import Path

from bench.report import update_section
from tests.package.runtime import BUILD_INPUTS, FUNCTIONS, LAYERS, LambdaLayout, SamBuild
from tests.package.tools import require_python313

EMBEDDING_TEMPLATE = "layers/nlu-embedding/template.yaml"
RUNS = 7
ARCH = "x86_64"  # the architecture this host can run; arm64 imports the same files


def import_ms(
    python: Path, function_dir: Path, layout: LambdaLayout, module: str, *, bytecode: bool
) -> tuple[float, float]:
    """(CPU ms, wall ms) of one cold import. CPU time is what a busy machine distorts least."""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{function_dir}:{layout.opt / 'python'}",
        "AWS_REGION": "us-east-1",
        # What Lambda sets: the X-Ray SDK reads LAMBDA_TASK_ROOT and, outside Lambda, builds a sampler with a
        # botocore X-Ray client at import (about 300 ms) that a deployed function never builds.
        "LAMBDA_TASK_ROOT": str(function_dir),
        "AWS_LAMBDA_FUNCTION_NAME": f"clawline-{module}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    }
    with tempfile.TemporaryDirectory() as empty:
        if not bytecode:
            env.update({"PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"})
        code = (
            f"import time; c, w = time.process_time(), time.perf_counter(); import {module}; "
            "print((time.process_time() - c) * 1000, (time.perf_counter() - w) * 1000)"
        )
        done = subprocess.run(
            [str(python), "-S", "-c", code], cwd=function_dir, env=env, capture_output=True, text=True, check=True
        )
    cpu, wall = done.stdout.split()
    return float(cpu), float(wall)


def sizes(path: Path) -> tuple[float, float]:
    """(unzipped MB, zipped MB) of an artifact folder."""
    buffer = io.BytesIO()
    unzipped = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            unzipped += file.stat().st_size
            archive.write(file, file.relative_to(path))
    return unzipped / 1e6, len(buffer.getvalue()) / 1e6


def main() -> None:
    python = require_python313()
    build = SamBuild(ARCH).run()
    with tempfile.TemporaryDirectory() as tmp:
        layout = LambdaLayout.assemble(Path(tmp), [build.artifact(layer) for layer in LAYERS])
        rows = []
        for logical_id, module in FUNCTIONS.items():
            function_dir = build.artifact(logical_id)
            import_ms(python, function_dir, layout, module, bytecode=True)  # warm the page cache
            with_pyc = [import_ms(python, function_dir, layout, module, bytecode=True) for _ in range(RUNS)]
            without = [import_ms(python, function_dir, layout, module, bytecode=False) for _ in range(RUNS)]
            cpu_with = statistics.median(c for c, _ in with_pyc)
            cpu_without = statistics.median(c for c, _ in without)
            wall_with = statistics.median(w for _, w in with_pyc)
            wall_without = statistics.median(w for _, w in without)
            rows.append(
                f"| {logical_id} | `{module}` | {cpu_with:.0f} | {cpu_without:.0f} | {cpu_without / cpu_with:.1f}x "
                f"| {wall_with:.0f} | {wall_without:.0f} |"
            )
            print(rows[-1], flush=True)
        size_rows = []
        for name in [*LAYERS, *FUNCTIONS]:
            unzipped, zipped = sizes(build.artifact(name))
            size_rows.append(f"| {name} | {unzipped:.2f} | {zipped:.2f} |")
        embedding = SamBuild(ARCH, template=EMBEDDING_TEMPLATE, inputs=(*BUILD_INPUTS, "tools/nlu")).run()
        unzipped, zipped = sizes(embedding.artifact("NluEmbeddingLayer"))
        size_rows.append(f"| NluEmbeddingLayer (optional: onnxruntime + model) | {unzipped:.2f} | {zipped:.2f} |")
    load = os.getloadavg()[0]
    markdown = "\n".join(
        [
            "### Cold import of each function (python3.13, `sam build` output, x86_64)",
            "",
            f"Median of {RUNS} fresh `python3.13 -S` processes importing the handler module with the function "
            "folder and the layers laid out as in Lambda (`tests/package/runtime.py`) and Lambda's "
            "`LAMBDA_TASK_ROOT`, `AWS_LAMBDA_FUNCTION_NAME` and `AWS_EXECUTION_ENV` set (the X-Ray SDK takes its "
            "Lambda path). Without bytecode = no .pyc and nowhere to write one (Lambda's code folders are "
            "read-only). CPU ms is the import's process time, which a busy machine distorts least; wall ms is what "
            f"a cold start waits here. Run by `python -m bench coldstart`; 2 cores, 1-minute load average at the "
            f"end: {load:.1f} (shared machine).",
            "",
            "| function | module | CPU ms, bytecode | CPU ms, none | slower | wall ms, bytecode | wall ms, none |",
            "|---|---|---:|---:|---:|---:|---:|",
            *rows,
            "",
            "### Artifact sizes (x86_64 build; arm64 is within a few MB)",
            "",
            "| artifact | unzipped MB | zipped MB |",
            "|---|---:|---:|",
            *size_rows,
        ]
    )
    update_section("coldstart", markdown)


if __name__ == "__main__":
    main()
