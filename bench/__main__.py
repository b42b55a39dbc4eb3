"""Run benchmarks: ``python -m bench`` (all) or ``python -m bench engine nlu`` (some).

Each benchmark is a module ``bench/<name>.py`` with a ``main() -> None`` that measures and calls
``bench.report.update_section``. Add a new one to ``BENCHMARKS`` below.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS: list[str] = ["engine", "load", "moto_query", "coldstart", "nlu", "nlu_runtime", "cost", "languages"]
#: Run only when named: they need another venv or take an hour (``nlu_finetune``: ``make finetune``).
ON_REQUEST: list[str] = ["nlu_finetune"]


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    unknown = sorted(set(names) - set(BENCHMARKS) - set(ON_REQUEST))
    if unknown:
        print(
            f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS + ON_REQUEST)}", file=sys.stderr
        )
        return 2
    for name in names:
        print(f"== bench {name}", flush=True)
        importlib.import_module(f"bench.{name}").main()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
