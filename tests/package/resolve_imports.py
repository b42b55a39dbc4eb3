"""Run by python3.13 -S inside the Lambda layout: every import statement in the given sources (module level or
inside functions, so lazy imports count too; ``if TYPE_CHECKING:`` blocks excepted) must resolve on sys.path.

Prints a JSON list of ``{"module", "where"}`` for the ones that do not. Stdlib only: it runs outside the venv.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from pathlib import Path


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(source: Path) -> list[tuple[str, int]]:
    tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _type_checking_only(node):
            skipped.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
    return found


def resolves(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def main(roots: list[str]) -> int:
    missing = []
    for root in map(Path, roots):
        for source in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
            for module, line in imported_modules(source):
                if module.split(".")[0] in sys.stdlib_module_names or resolves(module):
                    continue
                missing.append({"module": module, "where": f"{source}:{line}"})
    print(json.dumps(missing))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
