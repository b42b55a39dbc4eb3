"""A bot definition's problems, each with the file, line and field it was found at, and the source map that
locates them.

Their own module, without the YAML loader: a bot loaded from its prebuilt definition (``clawline.bot.prebuilt``)
carries its source map, and unpickling it, or building the bot, imports only this.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from clawline.errors import ConfigurationError

Location = tuple[Path, int]
FieldPath = tuple[str | int, ...]


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class Problem(NamedTuple):
    """One thing wrong with a bot definition: where (file, line, field) and what."""

    file: Path | None
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else str(self.file or "<bot>")
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class BotDefinitionError(ConfigurationError):
    """The bot definition is wrong. ``problems`` lists each one with its file, line and field."""

    code = "bot_definition_error"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"invalid bot definition ({len(problems)} {noun}):\n{shown}{more}")


@dataclass
class SourceMap:
    """Where each field of the merged definition was written."""

    locations: dict[FieldPath, Location] = field(default_factory=dict)
    default_file: Path | None = None

    def locate(self, path: Iterable[str | int]) -> Location | None:
        key = tuple(path)
        while True:
            if key in self.locations:
                return self.locations[key]
            if not key:
                return None
            key = key[:-1]

    def problem(self, path: Iterable[str | int], message: str) -> Problem:
        path = tuple(path)
        location = self.locate(path)
        file, line = location if location else (self.default_file, None)
        return Problem(file, line, format_path(path), message)


def format_path(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text
