"""The template as CloudFormation will see it: translated by the SAM transform (samtranslator, in the SAM tools
venv), parsed once per session.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.package.tools import ROOT, SAM_PYTHON, require_sam, sam_env

TEMPLATE = ROOT / "template.yaml"


def translate(template: Path = TEMPLATE) -> dict[str, Any]:
    require_sam()
    done = subprocess.run(
        [str(SAM_PYTHON), str(Path(__file__).with_name("translate.py")), str(template)],
        env=sam_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, f"the SAM transform failed:\n{done.stderr[-4000:]}"
    translated: dict[str, Any] = json.loads(done.stdout)
    return translated


@pytest.fixture(scope="session")
def cfn() -> dict[str, Any]:
    return translate()


@pytest.fixture(scope="session")
def resources(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = cfn["Resources"]
    return found
