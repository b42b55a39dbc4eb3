"""A two-language bot (docs/examples/bots/bilingual: English and Spanish) through the HTTP and WebSocket functions:
each reply is in the language the message is written in, the one the client asks for (``metadata.language``) or
the one the user chose (the ``language`` slot); each language is classified by its own trained model.

The handlers run against moto's server; the bot's two models are trained once by ``clawline train``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import http_app
import websocket_handler
from clawline import composition
from clawline.cli import main as clawline
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context

BILINGUAL = Path(__file__).resolve().parents[2] / "docs" / "examples" / "bots" / "bilingual"
CONNECTION = "Lang4ages0AMCJdA="


@pytest.fixture(scope="module")
def trained_bot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bot = tmp_path_factory.mktemp("bots") / "bilingual"
    shutil.copytree(BILINGUAL, bot)
    assert clawline(["train", "--bot", str(bot)]) == 0
    return bot


@pytest.fixture
def bot(stack: Stack, trained_bot: Path, monkeypatch: pytest.MonkeyPatch) -> Stack:
    monkeypatch.setenv("CLAWLINE_BOT_PATH", str(trained_bot))
    composition.reset()
    connect = load_event("websocket/connect.json")
    connect["requestContext"]["connectionId"] = CONNECTION
    websocket_handler.handler(connect, lambda_context("clawline-websocket"))
    return stack


def over_http(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    event = load_event("http/post_message.json")
    event["body"] = json.dumps(body)
    response = http_app.handler(event, lambda_context("clawline-http"))
    assert response["statusCode"] == 200, response
    reply: dict[str, Any] = json.loads(response["body"])
    return reply


def over_websocket(stack: Stack, body: dict[str, Any]) -> dict[str, Any]:
    event = load_event("websocket/message.json")
    event["body"] = json.dumps(body)
    event["requestContext"]["connectionId"] = CONNECTION
    assert websocket_handler.handler(event, lambda_context("clawline-websocket")) == {"statusCode": 200}
    frames = [f for f in stack.recorder.frames(CONNECTION) if f.get("message_id") == body["message_id"]]
    assert len(frames) == 1 and frames[0]["type"] == "reply", frames
    return frames[0]


CHANNELS: dict[str, Callable[[Stack, dict[str, Any]], dict[str, Any]]] = {
    "http": over_http,
    "websocket": over_websocket,
}


def texts(reply: dict[str, Any]) -> list[str]:
    # The HTTP body lists ``replies``; the WebSocket frame is the engine's reply, with ``messages``.
    return [m["text"] for m in reply.get("replies", reply.get("messages", []))]


@pytest.mark.parametrize("channel", CHANNELS)
def test_each_message_is_understood_and_answered_in_its_language(bot: Stack, channel: str) -> None:
    send = CHANNELS[channel]
    turns = [
        ("can I get a pepperoni pizza", "order_pizza", "Great, one pizza coming up."),
        ("¿me pones una pizza de pepperoni?", "order_pizza", "Perfecto, una pizza en camino."),
        ("¿a qué hora cierran hoy?", "opening_hours", "Abrimos todos los días de 12:00 a 23:00."),
        ("what time do you close tonight", "opening_hours", "We are open every day from noon to 11 pm."),
    ]
    for i, (text, intent, answer) in enumerate(turns):
        reply = send(bot, {"text": text, "conversation_id": f"c-{channel}", "message_id": f"m-{i}"})
        assert (reply["intent"], texts(reply)) == (intent, [answer]), text
    # Each language was classified by its own model, read from the file `clawline train` wrote.
    models = composition.engine().nlu.backend().models  # type: ignore[union-attr]
    assert {lang: model.source for lang, model in models.items()} == {"en": "artifact", "es": "artifact"}


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_clients_language_wins_and_an_unknown_one_is_passed_over(bot: Stack, channel: str) -> None:
    send = CHANNELS[channel]
    asked = send(bot, {"text": "hello", "message_id": "m-1", "metadata": {"language": "es-ES"}})
    assert texts(asked) == ["¡Hola! ¿Quieres una pizza?"]
    unknown = send(bot, {"text": "hello", "message_id": "m-2", "metadata": {"language": "ja-JP"}})
    assert texts(unknown) == ["Hello! Would you like a pizza?"]


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_users_language_slot_is_kept_for_the_next_turns(bot: Stack, channel: str) -> None:
    send = CHANNELS[channel]
    chosen = send(bot, {"text": "en español", "conversation_id": "c-slot", "message_id": "m-1"})
    assert texts(chosen) == ["Hablaré español."]
    later = send(bot, {"text": "pizza", "conversation_id": "c-slot", "message_id": "m-2"})
    assert texts(later) == ["Perfecto, una pizza en camino."]


def test_a_response_missing_in_spanish_is_sent_in_english_and_logged(
    bot: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    from clawline import languages

    languages.warn_once.cache_clear()
    reply = over_http(bot, {"text": "¿hacen reparto a domicilio?", "message_id": "m-1"})
    assert texts(reply) == ["We deliver within 3 km."]
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert [(getattr(r, "language", None), getattr(r, "response", None)) for r in warnings] == [("es", "delivery")]
