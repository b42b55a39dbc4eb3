"""Sets the default of the ``BotName`` parameter in a built template (``make build BOT=...`` runs it).

``sam deploy`` deploys ``.aws-sam/build/template.yaml``: with the packaged bot's name as the default there, a deploy
(guided or not) points the functions at the bot that was built, not at ``bots/default``. Stdlib only; the line is
edited in place so the rest of the built template stays byte for byte as ``sam build`` wrote it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_BLOCK = re.compile(r"(?m)^(?P<indent>\s*)BotName:\s*\n(?P<body>(?:(?P=indent)\s+.*\n)+)")
_DEFAULT = re.compile(r"(?m)^(?P<lead>\s+Default:\s*).*$")


def set_default(text: str, name: str) -> str:
    block = _BLOCK.search(text)
    if block is None:
        raise SystemExit("no BotName parameter in the built template")
    body, count = _DEFAULT.subn(lambda m: f"{m.group('lead')}{name}", block.group("body"), count=1)
    if not count:
        raise SystemExit("the BotName parameter has no Default in the built template")
    return text[: block.start("body")] + body + text[block.end("body") :]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", argv[1]):
        raise SystemExit("usage: set_bot_parameter.py BUILT_TEMPLATE BOT_NAME (a folder name: letters, digits, _.-)")
    path = Path(argv[0])
    path.write_text(set_default(path.read_text(encoding="utf-8"), argv[1]), encoding="utf-8")
    print(f"{path}: BotName defaults to {argv[1]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
