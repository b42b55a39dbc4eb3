"""S19: SAST is clean against its baseline, every dependency is pinned, and known-CVE version floors hold."""

from __future__ import annotations

import json
import re
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
BANDIT = ROOT / ".venv-checkov" / "bin" / "bandit"
REQUIREMENTS = sorted(
    [
        *ROOT.joinpath("requirements").glob("*.txt"),
        ROOT / "layers/engine/requirements.txt",
        *ROOT.glob("functions/*/requirements.txt"),
    ]
)

#: Floors for advisories that hit our dependencies (the version that fixed them, or a later one we rely on).
FLOORS = {
    "pyjwt": "2.13",  # algorithm confusion and alg=none history; S2 depends on this behaviour
    "cryptography": "44.0.1",  # GHSA-79v4-65xg-pq4g (OpenSSL in wheels)
    "urllib3": "2.5.0",  # GHSA-pq67-6m6q-mj2v (redirects), used by botocore
    "requests": "2.32.4",  # GHSA-9hjg-9r4m-mvj7 (.netrc credential leak)
    "jinja2": "3.1.6",  # GHSA-cpwx-vrp4-4pq7 (sandbox escape), pulled by tools
    "starlette": "0.47.2",  # GHSA-2c2j-9gv5-cj73 (multipart DoS)
    "pydantic": "2.4.0",  # GHSA-mr82-8j83-vxmv (regex DoS in email validation)
    "pyyaml": "5.4",  # CVE-2020-14343 (full_load code execution)
}


@pytest.mark.parametrize("path", REQUIREMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_s19_every_requirement_is_pinned(path: Path) -> None:
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith(("-r ", "-c ", "--")):
            continue
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+(\[[A-Za-z0-9_,\-]+\])?==[A-Za-z0-9_.+\-]+", line), f"{path.name}: {line}"


@pytest.mark.parametrize(("package", "floor"), sorted(FLOORS.items()))
def test_s19_installed_versions_are_above_known_cve_floors(package: str, floor: str) -> None:
    try:
        installed = metadata.version(package)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{package} is not installed in this venv")
    assert Version(installed) >= Version(floor), f"{package} {installed} < {floor}"


@pytest.mark.skipif(not BANDIT.exists(), reason="bandit lives in .venv-checkov: run `make security` to create it")
def test_s19_bandit_finds_nothing_new_against_the_baseline() -> None:
    result = subprocess.run(
        [
            str(BANDIT),
            "-q",
            "-c",
            ".bandit",
            "-r",
            "layers/engine/clawline",
            "functions",
            "local",
            "plugins",
            "-ll",
            "-b",
            ".bandit-baseline.json",
            "-f",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )
    report = json.loads(result.stdout)
    assert [(r["filename"], r["line_number"], r["test_id"]) for r in report["results"]] == []
    baseline = json.loads((ROOT / ".bandit-baseline.json").read_text(encoding="utf-8"))
    # The baseline may only hold findings outside the Lambda functions and the security/auth packages.
    guarded = ("functions/", "layers/engine/clawline/auth/", "layers/engine/clawline/security/")
    assert not [r for r in baseline["results"] if r["filename"].startswith(guarded)]
