"""Every example bot in docs/ loads and passes its own stories, so the documentation cannot rot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clawline.engine import load_engine
from clawline.store.memory import InMemoryConversationStore
from clawline.stories.models import Step, Story, load_stories
from clawline.stories.runner import EngineTarget, run_stories

DOCS = Path(__file__).resolve().parents[3] / "docs"
EXAMPLES = sorted((DOCS / "examples" / "bots").iterdir())


@pytest.mark.parametrize("bot", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_documented_bot_passes_its_stories(bot):
    engine = load_engine(bot, InMemoryConversationStore(), clock=lambda: datetime(2026, 5, 4, 9, 0, tzinfo=UTC))
    asyncio.run(engine.setup())
    results = asyncio.run(run_stories(EngineTarget(engine), load_stories([bot / "stories"])))
    assert results
    assert [r.failures for r in results] == [[] for _ in results]


def test_the_coffee_bot_time_rule_answers_at_night():
    bot = next(p for p in EXAMPLES if p.name == "coffee")
    engine = load_engine(bot, InMemoryConversationStore(), clock=lambda: datetime(2026, 5, 4, 22, 30, tzinfo=UTC))
    results = asyncio.run(run_stories(EngineTarget(engine), load_stories([bot / "stories"])))
    # 22:30 UTC is 00:30 in Paris: the night rule answers before anything else.
    assert "Sorry, the bar is closed at night." in " ".join(results[0].failures)


def test_the_documented_plugin_answers_in_a_bot(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(DOCS / "examples" / "plugins"))
    (tmp_path / "bot.yaml").write_text(
        "name: weatherbot\n"
        "responses:\n  fallback: [x]\n"
        'plugins:\n  - {module: "weather", class: "Weather", config: {city: London}}\n'
        "rules:\n"
        "  - {name: here, when: 'text == \"weather\"', then: [{plugin: weather}]}\n"
        "  - {name: paris, when: 'text == \"paris\"', then: [{plugin: {name: weather, params: {city: Paris}}}]}\n",
        encoding="utf-8",
    )
    engine = load_engine(tmp_path, InMemoryConversationStore())
    asyncio.run(engine.setup())
    target = EngineTarget(engine)
    story = Story(
        name="weather", steps=[Step(user="weather", bot="Rainy in London."), Step(user="paris", bot="Sunny in Paris.")]
    )
    [result] = asyncio.run(run_stories(target, [story]))
    assert result.failures == []
