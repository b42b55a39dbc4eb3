"""YAML traps in text fields: values YAML reads as something other than the text that was written.

An unquoted ``yes``, ``no``, ``on`` or ``off`` is a boolean, ``2024-01-01`` a date, ``007`` or ``1.50`` a number
(so "1.50" becomes "1.5"), and an example that starts with ``[`` (``[savings](account) please``) a list or a
syntax error. In fields that hold what a user types or reads (intent examples, responses, lookup values,
story steps) each of these is reported with its file and line, and the fix: quote the text.

Works on the YAML node tree, where the written text of every scalar is still known.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from clawline.bot.loader import Problem, format_path

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ANY = object()
#: Paths whose values are text a user types or reads (``_ANY`` matches any key or index).
TEXT_PATHS: tuple[tuple[object, ...], ...] = (
    ("intents", _ANY, "examples", _ANY),
    ("out_of_scope", _ANY),
    ("responses", _ANY, _ANY),
    ("responses", _ANY, _ANY, "text"),
    ("entities", _ANY, "lookup", _ANY),
    ("entities", _ANY, "synonyms", _ANY, _ANY),
    ("slots", _ANY, "values", _ANY),
    ("stories", _ANY, "steps", _ANY, "user"),
    ("stories", _ANY, "steps", _ANY, "bot"),
    ("stories", _ANY, "steps", _ANY, "bot", _ANY),
)
#: Text paths where a list is valid (a story step's ``bot`` may list the reply's messages).
LIST_ALLOWED: tuple[tuple[object, ...], ...] = (("stories", _ANY, "steps", _ANY, "bot"),)
#: Text paths where a number is turned back into text (a story's ``user: 2``): only a changed text is a trap.
NUMBERS_AS_TEXT: tuple[tuple[object, ...], ...] = (("stories", _ANY, "steps", _ANY, "user"),)
_KINDS = {
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:int": "a number",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:timestamp": "a date",
}


def _is_text_path(path: tuple[object, ...], patterns: tuple[tuple[object, ...], ...] = TEXT_PATHS) -> bool:
    return any(
        len(p) == len(path) and all(want is _ANY or want == got for want, got in zip(p, path, strict=True))
        for p in patterns
    )


def _number_keeps_its_text(written: str) -> bool:
    value = yaml.safe_load(written)
    return str(value) == written


def find_traps(file: Path) -> list[Problem]:
    """Every value in a text field of ``file`` that YAML does not read as the text written; [] when the file
    cannot be read or parsed (the loader reports that)."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return _bracket_hint(file, text, mark.line if mark else None)
    except (yaml.YAMLError, RecursionError):
        return []
    return [Problem(file, line, format_path(path), message) for path, line, message in _walk(node, (), text)]


def bot_files(bot: Path) -> list[Path]:
    """bot.yaml, the files it includes and its stories: every file ``validate`` looks for traps in."""
    main = bot / "bot.yaml" if bot.is_dir() else bot
    files = [main]
    try:
        data = yaml.safe_load(main.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        data = None
    settings = data.get("settings") if isinstance(data, dict) else None
    includes = settings.get("include") if isinstance(settings, dict) else None
    for pattern in includes if isinstance(includes, list) else []:
        if isinstance(pattern, str):
            files.extend(sorted(p for p in main.parent.glob(pattern) if p.is_file() and p not in files))
    stories = main.parent / "stories"
    if stories.is_dir():
        files.extend(sorted(p for p in stories.rglob("*") if p.suffix in (".yaml", ".yml")))
    return files


_ANNOTATED_ITEM = re.compile(r"^\s*-\s*\[[^\]]*\]\s*[({]")


def _bracket_hint(file: Path, text: str, error_line: int | None) -> list[Problem]:
    """A syntax error at (or just after) a list item such as ``- [savings](account) please`` is a trap too."""
    if error_line is None:
        return []
    lines = text.splitlines()
    for n in (error_line, error_line - 1):
        if 0 <= n < len(lines) and _ANNOTATED_ITEM.match(lines[n]):
            item = lines[n].strip()[1:].strip()
            message = f"YAML reads {item} as a list followed by more text: quote the example ('{item}')"
            return [Problem(file, n + 1, "", message)]
    return []


def _walk(node: yaml.Node | None, path: tuple[object, ...], text: str) -> Iterator[tuple[tuple[Any, ...], int, str]]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                yield from _walk(value, (*path, key.value), text)
    elif isinstance(node, yaml.SequenceNode):
        if node.flow_style and _is_text_path(path) and not _is_text_path(path, LIST_ALLOWED):
            written = text[node.start_mark.index : node.end_mark.index]
            yield (
                path,
                node.start_mark.line + 1,
                f"YAML reads {written} as a list, not text: quote a text that starts with '[' ('{written} ...')",
            )
            return
        for i, item in enumerate(node.value):
            yield from _walk(item, (*path, i), text)
    elif isinstance(node, yaml.ScalarNode) and not node.style and node.tag in _KINDS and _is_text_path(path):
        if _KINDS[node.tag] == "a number" and _is_text_path(path, NUMBERS_AS_TEXT):
            if _number_keeps_its_text(node.value):
                return
            message = f"YAML reads the unquoted {node.value} as a number, so the text is "
            message += f'{yaml.safe_load(node.value)!s}: write "{node.value}"'
        else:
            message = f'YAML reads the unquoted {node.value} as {_KINDS[node.tag]}, not text: write "{node.value}"'
        yield path, node.start_mark.line + 1, message
