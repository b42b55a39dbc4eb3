"""atheris harness for the bot loader: ``python -m tests.fuzz.atheris_bot_loader -max_total_time=30``."""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT)]

with atheris.instrument_imports():
    from tests.fuzz import harness


def one_input(data: bytes) -> None:
    harness.run("bot_yaml", data)


def main() -> None:
    atheris.Setup([sys.argv[0], "-runs=5000", *sys.argv[1:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
