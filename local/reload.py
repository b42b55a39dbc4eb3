"""``clawline dev --reload``: a changed bot is validated, then swapped into the running functions.

The bot folder is polled (a second apart; no watcher dependency) for a change to any file's size or mtime. A
change is validated in full (YAML, cross-references, plugins) before anything is touched: an invalid edit keeps
the running bot and prints the problems with their files and lines; a valid one replaces the bot for the next
turn. In-process functions drop their cached engine (and the bot's own plugin modules, so an edited plugin is
imported again); functions in their own process or emulator are restarted. Conversations live in DynamoDB, so
they go on across the swap.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Snapshot = dict[str, tuple[int, int]]
_IGNORED = {"__pycache__", ".pytest_cache"}


def snapshot(bot: Path) -> Snapshot:
    """(size, mtime_ns) of every file of the bot, by relative path."""
    files: Snapshot = {}
    for path in sorted(bot.rglob("*")):
        if path.is_file() and not (_IGNORED & set(path.relative_to(bot).parts)) and path.suffix != ".pyc":
            stat = path.stat()
            files[str(path.relative_to(bot))] = (stat.st_size, stat.st_mtime_ns)
    return files


def check_bot(bot: Path) -> str | None:
    """The problems that keep ``bot`` from loading, or None when it is valid."""
    from clawline.bot.compiled import Bot
    from clawline.errors import ConfigurationError

    _forget_bot_modules(bot)
    try:
        Bot.load(bot)
    except ConfigurationError as exc:
        return exc.message
    return None


def _forget_bot_modules(bot: Path) -> None:
    """Plugin modules imported from the bot's folder, forgotten so that the next load imports the edited code."""
    root = bot.resolve()
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(root):
            del sys.modules[name]


class BotReloader:
    """Polls ``runtime.options.bot``; on a valid change calls ``runtime.reload_bot()``."""

    def __init__(self, runtime: Any, *, interval: float = 1.0, log: Callable[[str], None] | None = None) -> None:
        self.runtime = runtime
        self.bot: Path = runtime.options.bot
        self.interval = interval
        self.log = log or (lambda line: print(line, flush=True))
        self.reloads = 0
        self._seen = snapshot(self.bot)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.poll()

    async def poll(self) -> bool:
        """Check once; True when a new version of the bot was swapped in."""
        current = await asyncio.to_thread(snapshot, self.bot)
        if current == self._seen:
            return False
        changed = sorted(k for k in current.keys() | self._seen.keys() if current.get(k) != self._seen.get(k))
        self._seen = current
        problems = await asyncio.to_thread(check_bot, self.bot)
        if problems is not None:
            self.log(f"reload: {', '.join(changed)} changed, but the bot does not validate; still serving the "
                     f"previous version:\n{problems}")  # fmt: skip
            return False
        await asyncio.to_thread(self.runtime.reload_bot)
        self.reloads += 1
        self.log(f"reload: {', '.join(changed)} changed; bot {self.bot} validated and swapped in")
        return True
