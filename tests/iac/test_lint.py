"""cfn-lint (bundled with the SAM CLI; it applies the SAM transform) and `sam validate --lint` pass with no finding."""

from __future__ import annotations

import subprocess

import pytest

from tests.package.tools import CFN_LINT, ROOT, require_sam, sam_env

pytestmark = pytest.mark.iac


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=sam_env(), capture_output=True, text=True, check=False, timeout=300)


def test_cfn_lint_reports_nothing() -> None:
    require_sam()
    done = run([str(CFN_LINT), "template.yaml"])
    assert done.returncode == 0, done.stdout + done.stderr


def test_sam_validate_with_lint_passes() -> None:
    sam = require_sam()
    done = run([str(sam), "validate", "--lint", "--template-file", "template.yaml"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout
