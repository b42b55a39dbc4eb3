"""Every example bot in docs/ loads and passes its own stories, so the documentation cannot rot."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from clawline.engine import load_engine
from clawline.store.memory import InMemoryConversationStore
from clawline.stories.models import load_stories
from clawline.stories.runner import EngineTarget, run_stories

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "docs" / "examples" / "bots").iterdir())


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
