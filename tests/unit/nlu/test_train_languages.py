"""`clawline train --bot` on a two-language bot writes one model per language, and the engine uses both."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from clawline.cli import main as clawline
from clawline.engine import load_engine
from clawline.messages import Channel, InboundMessage
from clawline.nlu.linear import LinearModel
from clawline.nlu.recipe import OOS_LABEL
from clawline.store.memory import InMemoryConversationStore

BILINGUAL = Path(__file__).resolve().parents[3] / "docs" / "examples" / "bots" / "bilingual"


def test_train_writes_a_model_per_language_that_the_engine_loads(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bot = tmp_path / "bilingual"
    shutil.copytree(BILINGUAL, bot)
    assert clawline(["train", "--bot", str(bot)]) == 0
    printed = capsys.readouterr().out
    assert "language en (default):" in printed and "language es:" in printed

    # The default language keeps the one-language file name; Spanish gets its own.
    assert sorted(p.name for p in (bot / "model").iterdir()) == ["nlu.es.npz", "nlu.npz"]
    intents = {"greet", "order_pizza", "opening_hours", "menu", "goodbye", "thanks", OOS_LABEL}
    assert set(LinearModel.load(bot / "model" / "nlu.npz").labels) == intents
    assert set(LinearModel.load(bot / "model" / "nlu.es.npz").labels) == intents

    engine = load_engine(bot, InMemoryConversationStore())
    texts = {"en": "can I get a pepperoni pizza", "es": "¿me pones una pizza de pepperoni?"}
    for language, text in texts.items():
        message = InboundMessage(
            message_id=f"m-{language}", channel=Channel.TEST, conversation_id=language, sender="u", text=text
        )
        reply = asyncio.run(engine.handle(message))
        assert reply.intent == "order_pizza", (language, reply)
    # Both were read from the files just written (their fingerprints match the bot): no training at cold start.
    assert engine.nlu is not None
    assert {lang: model.source for lang, model in engine.nlu.models.items()} == {"en": "artifact", "es": "artifact"}


def test_an_explicit_out_puts_the_other_languages_beside_it(tmp_path: Path) -> None:
    bot = tmp_path / "bilingual"
    shutil.copytree(BILINGUAL, bot)
    out = tmp_path / "build" / "pizzeria.npz"
    assert clawline(["train", "--bot", str(bot), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["pizzeria.es.npz", "pizzeria.npz"]
