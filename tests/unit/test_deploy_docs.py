"""docs/deploy.md stays true: every ``clawline`` command it shows parses with today's command line, and its
parameter table names the template's parameters with their defaults.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from clawline.cli import build_parser
from local.template import load

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deploy.md"


def shell_commands(markdown: str) -> list[str]:
    """Commands of the ```bash blocks, continuation lines joined, comments dropped."""
    commands: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, re.DOTALL):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            command = line.split(" #", 1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def clawline_invocations() -> list[list[str]]:
    out = []
    for command in shell_commands(GUIDE.read_text(encoding="utf-8")):
        head = next((w for w in command.split() if not re.match(r"^[A-Z_][A-Z0-9_]*=", w)), "")
        if head != "clawline":  # other tools' commands may hold quoting shlex need not understand
            continue
        words = shlex.split(command)
        while words and "=" in words[0] and not words[0].startswith("-"):  # VAR=value prefixes
            words = words[1:]
        if words and words[0] == "clawline":
            out.append(words[1:])
    return out


def test_the_guide_shows_smoke_and_every_device_command() -> None:
    shown = {tuple(words[:2]) if words[0] == "device" else (words[0],) for words in clawline_invocations()}
    assert {("smoke",), ("device", "add"), ("device", "list"), ("device", "remove")} <= shown


@pytest.mark.parametrize("argv", clawline_invocations(), ids=lambda argv: " ".join(argv[:3]))
def test_every_clawline_command_in_the_guide_parses(argv: list[str]) -> None:
    # `$(clawline dev token)` and `$VAR` stay single words here, which is all a parse needs.
    args = build_parser().parse_args(argv)
    assert callable(args.handler)


def parameter_rows() -> list[tuple[list[str], list[str]]]:
    """(names, defaults) of each row of the guide's parameter table."""
    section = GUIDE.read_text(encoding="utf-8").split("## Parameters", 1)[1]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            names = re.findall(r"`([A-Za-z0-9]+)`", cells[0])
            defaults = [d.strip().strip("`").strip('"') for d in cells[1].split(",")] if cells[1] else []
            rows.append((names, defaults))
    return rows


def test_the_parameter_table_names_real_parameters_with_their_defaults() -> None:
    parameters = load()["Parameters"]
    rows = parameter_rows()
    assert rows
    documented = set()
    for names, defaults in rows:
        for name in names:
            assert name in parameters, f"docs/deploy.md documents a parameter the template lacks: {name}"
            documented.add(name)
        if len(defaults) == len(names):
            for name, default in zip(names, defaults, strict=True):
                assert default == str(parameters[name].get("Default", "")), name
    # What a first deploy must think about is in the table.
    assert {"FunctionConcurrency", "ExistingStateTableName", "JwtIssuer", "JwksUrl", "AllowedOrigins"} <= documented
