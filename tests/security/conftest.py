"""Fixtures for the R/S property tests: the functional stack (moto server + loopback data planes), a JWT issuer
with its JWKS on loopback, an authenticated HTTP test client, and small invokers for the three channels.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from clawline import composition
from clawline.observability import logger
from tests.functional.conftest import Stack, issuer, moto_server, stack, template  # noqa: F401 - fixtures re-exported
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context
from tests.helpers.tokens import Issuer


@pytest.fixture
def http(stack: Stack, issuer: Issuer) -> TestClient:  # noqa: F811 - the fixture, by name
    """The FastAPI app with no authorizer in front: it verifies bearer tokens itself."""
    import http_app

    return TestClient(http_app.app, raise_server_exceptions=False)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def invoke_http(event: dict[str, Any]) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
    import http_app

    response = http_app.handler(event, lambda_context("clawline-http"))
    body = response.get("body")
    if response.get("isBase64Encoded") and body:
        body = base64.b64decode(body).decode()
    return response["statusCode"], (json.loads(body) if body else None), response.get("headers", {})


def invoke_ws(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    import websocket_handler

    result: dict[str, Any] = websocket_handler.handler(event, context or lambda_context("clawline-websocket"))
    return result


def invoke_mqtt(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    import mqtt_handler

    result: dict[str, Any] = mqtt_handler.handler(event, context or lambda_context("clawline-mqtt"))
    return result


def mqtt_event(payload: dict[str, Any] | bytes, thing: str = "kitchen-speaker-1") -> dict[str, Any]:
    event = load_event("mqtt/message.json")
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    event["payload"] = base64.b64encode(raw).decode()
    event["thing"] = event["client_id"] = thing
    return event


def ws_message(connection_id: str, body: dict[str, Any] | str) -> dict[str, Any]:
    event = load_event("websocket/message.json")
    event["requestContext"]["connectionId"] = connection_id
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def ws_connect(connection_id: str, sub: str) -> dict[str, Any]:
    event = load_event("websocket/connect.json")
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["authorizer"] = {"principalId": sub, "sub": sub}
    return event


def emf_metrics(text: str) -> list[str]:
    """Names of every metric data point in the EMF lines of captured stdout (one entry per emitted value)."""
    names: list[str] = []
    for line in text.splitlines():
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        doc = json.loads(line)
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = doc.get(metric["Name"])
                names.extend([metric["Name"]] * (len(value) if isinstance(value, list) else 1))
    return names


@pytest.fixture
def engine_calls(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> list[str]:  # noqa: F811 - the fixture
    """The real engine of the default bot, wrapped to record the message id of every turn it decides.

    A replay is recognised when the conversation is loaded (its turn is stored), before anything is decided:
    the decision is where a turn runs (rules, NLU, plugins), so that is what is counted.
    """
    engine = composition.engine()
    calls: list[str] = []
    original = engine._decide

    async def counting(turn: Any) -> Any:
        calls.append(turn.message.message_id)
        return await original(turn)

    monkeypatch.setattr(engine, "_decide", counting)
    return calls


class LogCapture:
    def __init__(self) -> None:
        import io

        self.buffer = io.StringIO()

    def lines(self) -> list[str]:
        return self.buffer.getvalue().splitlines()

    def text(self) -> str:
        return self.buffer.getvalue()


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    """Every line the Powertools logger writes during the test (DEBUG and up), exactly as written."""
    capture = LogCapture()
    handler = logger.registered_handler
    previous = handler.setStream(capture.buffer)  # type: ignore[attr-defined]
    level = logger.log_level
    logger.setLevel("DEBUG")
    try:
        yield capture
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
        logger.setLevel(level)


@pytest.fixture(autouse=True)
def _fresh_function_caches() -> Iterator[None]:
    """Handler-level caches (the dead-letter sink) hold the previous test's queue: forget them around each test."""
    import mqtt_handler

    mqtt_handler.dead_letters.cache_clear()
    yield
    mqtt_handler.dead_letters.cache_clear()


# Package scope, not session: the patched composition must end with this package, or tests collected after it (other
# packages run in the same session) would get its eager NLU instead of the composition root's lazy one.
@pytest.fixture(scope="package", autouse=True)
def _bot_loaded_once() -> Iterator[None]:
    """Training the default bot's NLU takes seconds; share the loaded bot, give every engine its own store.

    Each test still gets a fresh ``Engine`` (and so fresh plugin state and conversation store) from the
    composition root, exactly as a cold start builds it; only the immutable bot definition and model are reused.
    """
    from functools import cache

    from clawline.bot.compiled import Bot
    from clawline.engine import default_nlu_factory

    @cache
    def loaded(path: str) -> tuple[Bot, Any]:
        bot = Bot.load(path)
        return bot, default_nlu_factory(bot)

    # The composition root's bot() and nlu(), shared by path: reset() forgets them on purpose (it calls their
    # cache_clear), so the shared ones have a cache_clear that keeps them.
    def bot() -> Bot:
        return loaded(composition.settings().bot_path)[0]

    def nlu() -> Any:
        return loaded(composition.settings().bot_path)[1]

    with pytest.MonkeyPatch.context() as patch:
        for name, factory in (("bot", bot), ("nlu", nlu)):
            factory.cache_clear = lambda: None  # type: ignore[attr-defined]
            patch.setattr(composition, name, factory)
        yield


@pytest.fixture(autouse=True)
def _lambda_like_process() -> Iterator[None]:
    """What every invoke finds in Lambda: a current event loop on the main thread and an empty metrics buffer.

    ``asyncio.run`` (engine tests) leaves the main thread without a current loop, which Mangum needs; and a turn
    run outside a handler (the TestClient path) leaves metrics unflushed that the next handler would emit.
    """
    import asyncio

    from clawline.observability import metrics

    try:
        asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        asyncio.set_event_loop(asyncio.new_event_loop())
    metrics.clear_metrics()
    yield
    metrics.clear_metrics()
