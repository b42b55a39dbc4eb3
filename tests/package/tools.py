"""The tools the package and template tests run outside the project venv: the SAM CLI venv and python3.13.

Both are installed by the Makefile (``make tools``) or come with the machine (pyenv 3.13). When one is missing,
CI (``CI=true``) fails with what to do; a developer's run skips, saying why, so nobody mistakes it for a pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAM_VENV = ROOT / ".venv-sam"
SAM = SAM_VENV / "bin" / "sam"
CFN_LINT = SAM_VENV / "bin" / "cfn-lint"
SAM_PYTHON = SAM_VENV / "bin" / "python"


def unavailable(reason: str) -> None:
    """Fail in CI, skip loudly elsewhere."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(f"NOT RUN: {reason}")


def require_sam() -> Path:
    if not SAM.exists():
        unavailable(f"the SAM CLI tools venv is missing ({SAM}); run `make tools`")
    return SAM


def rie_binary() -> Path:
    require_sam()
    found = sorted(SAM_VENV.glob("lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64"))
    if not found:
        unavailable("the aws-sam-cli wheel in .venv-sam has no aws-lambda-rie-x86_64")
    return found[0]


@cache
def _find_python313() -> str | None:
    candidates = [shutil.which("python3.13") or ""]
    candidates += [str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"), reverse=True)]
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 13)); print(sys.executable)"],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = probe.stdout.split()
        if probe.returncode == 0 and lines and lines[0] == "True":
            return lines[1]
    return None


def require_python313() -> Path:
    found = _find_python313()
    if found is None:
        unavailable(
            "no python3.13 interpreter (Lambda's runtime) was found on PATH or in pyenv: `pyenv install 3.13`; "
            "sam build and the runtime emulator need it"
        )
    assert found is not None
    return Path(found)


def sam_env(**extra: str) -> dict[str, str]:
    """The environment for SAM commands: no telemetry, a region, python3.13 for the packaging Makefile."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "PYTHONPATH"))}
    env.update({"SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"})
    env.update(extra)
    return env
