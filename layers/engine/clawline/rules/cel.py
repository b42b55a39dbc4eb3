"""Access to the Rust CEL evaluator without the package's command-line tool.

``import cel`` runs ``cel/__init__.py``, which imports ``cel.cli`` and with it typer, rich, prompt_toolkit and
pygments: about 300 ms here, on every cold start of every function that imports the engine. The evaluator
itself is the extension module ``cel/cel*.so``; we load only that file, registered under its own name
(``cel.cel``) so that a later ``import cel`` elsewhere reuses it instead of loading it twice.

CEL's built-in ``matches()`` compiles its regular expression on every call (tens of microseconds). Rule
sources are rewritten at compile time to call ``clawline_matches``, a Python function with a compiled-pattern
cache, so ``text.matches("...")`` keeps its standard spelling and costs about a microsecond.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
import sys
from functools import cache, lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

#: The name the rewritten sources call instead of CEL's built-in ``matches``.
MATCHES_FUNCTION = "clawline_matches"
_EXTENSION = "cel.cel"


@cache
def cel_module() -> ModuleType:
    """The extension module (``Context``, ``compile``, ``Program``), loaded once."""
    loaded = sys.modules.get(_EXTENSION)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("cel")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the common-expression-language package is not installed (pip install it in the layer)")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    candidates = sorted(p for p in package_dir.iterdir() if p.name.startswith("cel.") and p.name.endswith(suffixes))
    if not candidates:
        raise ImportError(f"no compiled CEL extension found in {package_dir}")
    loader = importlib.machinery.ExtensionFileLoader(_EXTENSION, str(candidates[0]))
    ext_spec = importlib.util.spec_from_file_location(_EXTENSION, str(candidates[0]), loader=loader)
    assert ext_spec is not None
    module = importlib.util.module_from_spec(ext_spec)
    loader.exec_module(module)
    sys.modules[_EXTENSION] = module
    return module


@lru_cache(maxsize=1024)
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def clawline_matches(text: Any, pattern: Any) -> bool:
    """CEL ``matches`` semantics (a search, not a full match) with a cached compiled pattern."""
    if not isinstance(text, str) or not isinstance(pattern, str):
        raise TypeError("matches() takes a string and a pattern string")
    return compiled_pattern(pattern).search(text) is not None


def new_context() -> Any:
    """An empty evaluation context with Clawline's functions registered."""
    context = cel_module().Context()
    context.add_function(MATCHES_FUNCTION, clawline_matches)
    return context


def compile_program(source: str) -> Any:
    """Compile a (rewritten) CEL source; raises ``ValueError`` with CEL's own message on a syntax error."""
    return cel_module().compile(source)


class DeferredProgram:
    """A CEL program compiled on its first execution, from a source that already compiled when the bot was
    packaged (loading the CEL extension and compiling every condition cost about 3 ms of a cold start)."""

    __slots__ = ("_program", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._program: Any = None

    def execute(self, context: Any) -> Any:
        if self._program is None:
            self._program = compile_program(self.source)
        return self._program.execute(context)
