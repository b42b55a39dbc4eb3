"""The ``clawline`` command line. Each command group lives in its own module exposing ``register(subparsers)``.

Modules are imported only to build the parser; each command imports its heavy dependencies when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from clawline import __version__

#: Command-group modules, in the order their commands are listed in ``--help``.
COMMAND_MODULES: list[str] = [
    "clawline.cli.init",
    "clawline.cli.bot",
    "clawline.cli.package",
    "clawline.cli.dev",
    "clawline.cli.invoke",
    "clawline.cli.nlu",
    "clawline.cli.plugins",
]
COMMAND_MODULES += ["clawline.cli.device", "clawline.cli.smoke"]  # deploy-time commands (docs/deploy.md)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clawline", description="Serverless conversational bot engine.")
    parser.add_argument("--version", action="version", version=f"clawline {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
