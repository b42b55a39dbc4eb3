"""atheris (coverage-guided) harness for the event parsers: ``python -m tests.fuzz.atheris_parsers -max_total_time=60``.

The first input byte picks the parser, the rest is its input; only each parser's validation errors may escape
(``tests.fuzz.harness``). Run by `make fuzz`; the bounded hypothesis mirror runs in `make test`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "functions" / "http")]

with atheris.instrument_imports():
    from tests.fuzz import harness

PARSERS = ["websocket_body", "iot_payload", "iot_event", "http_envelope"]


def one_input(data: bytes) -> None:
    if not data:
        return
    harness.run(PARSERS[data[0] % len(PARSERS)], data[1:])


def main() -> None:
    atheris.Setup([sys.argv[0], "-runs=20000", *sys.argv[1:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
