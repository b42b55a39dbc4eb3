"""The Python examples in docs/nlu.md run, so the documentation cannot rot."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "nlu.md"


def test_every_runnable_python_block_in_the_nlu_doc_runs():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    runnable = [b for b in blocks if "assert " in b]
    assert runnable, "docs/nlu.md should keep at least one runnable example"
    for block in runnable:
        exec(compile(block, str(DOC), "exec"), {})
