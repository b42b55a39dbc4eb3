"""The built bot layer carries the bot's validated definition (``clawline.bot.prebuilt``), fresh for the engine layer
it ships with, so a cold start in Lambda loads the bot without importing yaml or validating again. A build that
left it stale (another pydantic, model sources stripped from the layer) would fall back to the YAML silently,
and cost every cold start about 30 ms: this fails instead."""

from __future__ import annotations

import json
import subprocess

from tests.package.runtime import LambdaLayout
from tests.package.tools import require_python313

PROBE = """
import json, sys
from pathlib import Path
from clawline.bot import prebuilt
root = Path(sys.argv[1])
fresh = prebuilt.read(root) is not None
bot = prebuilt.load_bot(root)
print(json.dumps({"fresh": fresh, "yaml": "yaml" in sys.modules, "plugins": [p.name for p in bot.plugins]}))
"""


def test_the_bot_layer_holds_a_fresh_prebuilt_definition_that_loads_without_yaml(layout: LambdaLayout) -> None:
    done = subprocess.run(
        [str(require_python313()), "-S", "-c", PROBE, str(layout.opt / "bots" / "default")],
        env={"PYTHONPATH": str(layout.opt / "python"), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"fresh": True, "yaml": False, "plugins": ["sample"]}
