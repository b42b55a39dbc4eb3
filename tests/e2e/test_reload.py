"""`clawline dev --reload`: an edited bot is validated and swapped in without a restart; an invalid edit keeps the
running bot and reports its problems (file and line)."""

from __future__ import annotations

import asyncio

import pytest

from clawline.cli import main as clawline
from local.reload import BotReloader
from local.runtime import RuntimeThread
from tests.e2e.conftest import Http, e2e_options, texts, unique

pytestmark = pytest.mark.e2e

GREETING = "Hello! Ask me about our opening hours, location, prices, refunds or how to contact us."


def test_a_valid_edit_is_swapped_in_and_an_invalid_one_keeps_the_running_bot(tmp_path) -> None:
    bot = tmp_path / "faq"
    assert clawline(["init", str(bot), "--template", "faq"]) == 0
    bot_yaml = bot / "bot.yaml"
    original = bot_yaml.read_text(encoding="utf-8")
    logged: list[str] = []
    # Isolated: the session's runtime holds this process's environment; these functions get their own processes.
    with RuntimeThread(e2e_options(bot=bot, isolated=True)) as rt:
        reloader = BotReloader(rt, log=logged.append)
        http = Http(rt, unique("reload"))
        assert texts(http.say("hello", unique("c"))) == [GREETING]

        bot_yaml.write_text(original.replace("Hello! Ask me", "Welcome back! Ask me"), encoding="utf-8")
        assert asyncio.run(reloader.poll()) is True
        assert texts(http.say("hello", unique("c"))) == [GREETING.replace("Hello!", "Welcome back!")]

        broken = original.replace('when: text == "ping"', 'when: intent == "pnig"')
        bot_yaml.write_text(broken, encoding="utf-8")
        assert asyncio.run(reloader.poll()) is False
        line = next(i for i, row in enumerate(broken.splitlines(), 1) if "pnig" in row)
        assert f"{bot_yaml}:{line}: rules[0].when: unknown intent 'pnig'" in logged[-1]
        assert "still serving the previous version" in logged[-1]
        # The running bot is the last valid one.
        assert texts(http.say("hello", unique("c"))) == [GREETING.replace("Hello!", "Welcome back!")]
        assert reloader.reloads == 1
