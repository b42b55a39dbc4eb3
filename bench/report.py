"""Writes one benchmark's results into its own section of BENCHMARKS.md, leaving the others as they are."""

from __future__ import annotations

import platform
import re
from datetime import UTC, datetime
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = (
    "# Benchmarks\n\nEach section is written by `make bench` (`python -m bench NAME` runs one);"
    " how it was measured is stated in it.\n"
)


def machine() -> str:
    import os

    return (
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}"
    )


def update_section(name: str, markdown: str) -> None:
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    stamp = f"_Measured {datetime.now(UTC):%Y-%m-%d} on {machine()}._\n\n"
    block = f"{start}\n{stamp}{markdown.strip()}\n{end}"
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS.write_text(text, encoding="utf-8")


def published(name: str) -> tuple[str, str] | None:
    """Section ``name`` of BENCHMARKS.md as published: (the date it was measured, its body), or None when absent.
    A benchmark that measures only part of its section keeps the rest from here."""
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else ""
    found = re.search(
        rf"<!-- bench:{re.escape(name)} -->\n_Measured (.*?)\._\n\n(.*?)<!-- /bench:{re.escape(name)} -->", text, re.S
    )
    return (found.group(1), found.group(2)) if found else None
