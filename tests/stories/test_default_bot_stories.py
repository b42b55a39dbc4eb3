"""The default bot's conversation stories, one pytest case per story, against the in-process engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clawline.engine import load_engine
from clawline.store.memory import InMemoryConversationStore
from clawline.stories.models import load_stories
from clawline.stories.runner import EngineTarget, run_story

BOT = Path(__file__).resolve().parents[2] / "bots" / "default"
STORIES = load_stories([BOT / "stories"])


@pytest.fixture(scope="module")
def target() -> EngineTarget:
    engine = load_engine(BOT, InMemoryConversationStore())
    asyncio.run(engine.setup())
    return EngineTarget(engine)


@pytest.mark.parametrize("story", STORIES, ids=[s.name for s in STORIES])
def test_story(target, story):
    result = asyncio.run(run_story(target, story))
    assert result.failures == []
    assert result.skipped == []
