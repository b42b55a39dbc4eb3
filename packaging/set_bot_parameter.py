"""Sets the defaults of the bot's parameters in a built template (``make build BOT=...`` runs it): ``BotName`` and
``BotUsesNlu``.

``sam deploy`` deploys ``.aws-sam/build/template.yaml``: with the packaged bot's name as the default there, a deploy
(guided or not) points the functions at the bot that was built, not at ``bots/default``; with ``BotUsesNlu`` set from
the bot, a rules-only bot's functions are deployed without the NLU layer (numpy). Stdlib only; the lines are edited
in place so the rest of the built template stays byte for byte as ``sam build`` wrote it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

_DEFAULT = re.compile(r"(?m)^(?P<lead>\s+Default:\s*).*$")


def set_default(text: str, value: str, parameter: str = "BotName") -> str:
    block = re.search(rf"(?m)^(?P<indent>\s*){parameter}:\s*\n(?P<body>(?:(?P=indent)\s+.*\n)+)", text)
    if block is None:
        raise SystemExit(f"no {parameter} parameter in the built template")
    body, count = _DEFAULT.subn(lambda m: f"{m.group('lead')}{value}", block.group("body"), count=1)
    if not count:
        raise SystemExit(f"the {parameter} parameter has no Default in the built template")
    return text[: block.start("body")] + body + text[block.end("body") :]


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}", argv[1]):
        raise SystemExit(
            "usage: set_bot_parameter.py BUILT_TEMPLATE BOT_NAME [BOT_USES_NLU] (a folder name: letters, digits, _.-;"
            " true or false)"
        )
    path = Path(argv[0])
    text = set_default(path.read_text(encoding="utf-8"), argv[1])
    message = f"{path}: BotName defaults to {argv[1]!r}"
    if len(argv) == 3:
        if argv[2] not in ("true", "false"):
            raise SystemExit(f"BOT_USES_NLU must be true or false, not {argv[2]!r}")
        text = set_default(text, f'"{argv[2]}"', "BotUsesNlu")
        message += f", BotUsesNlu to {argv[2]}"
    path.write_text(text, encoding="utf-8")
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
