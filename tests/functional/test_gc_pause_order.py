"""Each message function's cold start runs without garbage collections from its very first import.

``clawline.gc_pause`` turns the collector off when the engine's package is imported (in a Lambda environment). A
handler that imports botocore, Powertools, pydantic or FastAPI before ``clawline`` would pay their collections
(FastAPI's and pydantic's class building allocate the most). The
probe records, the moment each of those packages is first imported, whether the collector was on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, importlib.abc, json, sys
WATCHED = ("botocore", "aws_lambda_powertools", "pydantic", "fastapi", "starlette", "mangum")
seen = {{}}
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in WATCHED and name not in seen:
            seen[name] = gc.isenabled()
        return None
sys.meta_path.insert(0, Watch())
import {module}
print(json.dumps(seen))
"""


@pytest.mark.parametrize(
    ("folder", "module"),
    [("http", "http_app"), ("websocket", "websocket_handler"), ("mqtt", "mqtt_handler")],
)
def test_the_collector_is_off_before_any_framework_is_imported(folder: str, module: str) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions" / folder), str(ROOT / "layers" / "engine"), str(ROOT)]),
        "CLAWLINE_BOT_PATH": str(ROOT / "bots" / "default"),
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_LAMBDA_FUNCTION_NAME": f"clawline-{folder}",
    }
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    seen: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    assert "botocore" in seen and "aws_lambda_powertools" in seen  # every message function imports both
    assert not any(seen.values()), f"imported with the collector on: {[name for name, on in seen.items() if on]}"
