"""cfn-lint (bundled with the SAM CLI; it applies the SAM transform) and `sam validate --lint` pass with no finding."""

from __future__ import annotations

import subprocess

import pytest

from tests.package.tools import CFN_LINT, ROOT, require_sam, sam_env

pytestmark = pytest.mark.iac


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=sam_env(), capture_output=True, text=True, check=False, timeout=300)


#: The stack, and the optional NLU embedding layer's own template.
TEMPLATES = ["template.yaml", "layers/nlu-embedding/template.yaml"]


@pytest.mark.parametrize("template", TEMPLATES)
def test_cfn_lint_reports_nothing(template: str) -> None:
    require_sam()
    done = run([str(CFN_LINT), template])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("template", TEMPLATES)
def test_sam_validate_with_lint_passes(template: str) -> None:
    sam = require_sam()
    done = run([str(sam), "validate", "--lint", "--template-file", template])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is a valid SAM Template" in done.stdout
