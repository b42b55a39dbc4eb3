"""Prints ``true`` when a bot classifies (it has intents or entities) and so needs the NLU layer, else ``false``.

``make build BOT=...`` passes the answer to ``sam build`` and into the built template as ``BotUsesNlu``: a rules-only
bot's functions then go without numpy and the static token table. Run with the project venv and the engine on
PYTHONPATH (it loads the bot the way the functions do): ``python packaging/bot_uses_nlu.py bots/mybot``.
"""

from __future__ import annotations

import sys

from clawline.bot.loader import load_definition
from clawline.nlu.lazy import classifies


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        raise SystemExit("usage: bot_uses_nlu.py BOT_DIR")
    definition, _source = load_definition(argv[0])
    print("true" if classifies(definition) else "false")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
