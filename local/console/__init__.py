"""The local console (``clawline dev`` serves it at ``/_console``) and ``GET /metrics``.

- chat over the runtime's real WebSocket API, with a development token from ``/_local/token``;
- an MQTT device panel: a WebSocket bridge (``/_console/mqtt?thing=NAME``) holding a real MQTT client whose client
  id is the thing name, publishing to ``clawline/{thing}/in`` and forwarding ``clawline/{thing}/out``;
- the trace of each turn, from the engine's ``Reply`` (intent, confidence, entities, rules considered and fired,
  slots, plugin calls with their time) and the turn latency, collected by a turn observer;
- live charts computed from the functions' EMF lines (:mod:`local.telemetry`), the same ones CloudWatch reads;
- ``GET /metrics``: the same numbers in Prometheus text format, for a local Prometheus/Grafana.

Everything is served from ``static/`` as plain files (Chart.js vendored, pinned by version): no build step.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
import uuid
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from local.telemetry import MetricsStore

if TYPE_CHECKING:
    from clawline.messages import InboundMessage, Reply

STATIC = Path(__file__).with_name("static")
#: IoT Core thing names: 1-128 of these characters.
THING = re.compile(r"^[A-Za-z0-9:_-]{1,128}$")
#: Turns kept for the trace panel.
KEEP_TURNS = 200
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class TurnLog:
    """The last turns' traces, in order; registered as a turn observer on the in-process functions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turns: deque[dict[str, Any]] = deque(maxlen=KEEP_TURNS)
        self._seq = 0

    def __call__(self, message: InboundMessage, reply: Reply, elapsed_ms: float) -> None:
        entry = {
            "at": time.time(),
            "channel": message.channel.value,
            "sender": message.sender,
            "conversation_id": message.conversation_id,
            "message_id": message.message_id,
            "text": message.text,
            "replies": reply.texts,
            "intent": reply.intent,
            "confidence": reply.confidence,
            "entities": [{"entity": e.entity, "value": e.value, "text": e.text} for e in reply.entities],
            "considered": list(reply.considered),
            "fired": list(reply.trace),
            "slots": dict(reply.slots),
            "plugins": [c.model_dump() for c in reply.plugin_calls],
            "latency_ms": round(elapsed_ms, 2),
        }
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._turns.append(entry)

    def after(self, seq: int) -> list[dict[str, Any]]:
        with self._lock:
            return [t for t in self._turns if t["seq"] > seq]


class Console:
    def __init__(self, store: MetricsStore, config: dict[str, Any], *, traced: bool) -> None:
        self.store = store
        self.config = config  # URLs the page needs; filled in by the runtime once the ports are known
        self.turns = TurnLog()
        self.traced = traced
        self.mqtt: tuple[str, int] = ("127.0.0.1", 1883)

    def routes(self) -> list[Any]:
        return [
            Route("/metrics", self._metrics, methods=["GET"]),
            Route("/_console", self._page, methods=["GET"]),
            Route("/_console/", self._page, methods=["GET"]),
            Route("/_console/api/config", self._config, methods=["GET"]),
            Route("/_console/api/turns", self._turns, methods=["GET"]),
            Route("/_console/api/metrics", self._snapshot, methods=["GET"]),
            WebSocketRoute("/_console/mqtt", self._mqtt_bridge),
            Mount("/_console/static", StaticFiles(directory=STATIC), name="console-static"),
        ]

    async def _metrics(self, _request: Request) -> Response:
        return PlainTextResponse(self.store.prometheus(), media_type=PROMETHEUS_TYPE)

    async def _page(self, _request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def _config(self, _request: Request) -> Response:
        return JSONResponse({**self.config, "traced": self.traced})

    async def _turns(self, request: Request) -> Response:
        try:
            after = int(request.query_params.get("after", "0"))
        except ValueError:
            return JSONResponse({"error": "invalid_input", "message": "after must be an integer"}, status_code=400)
        return JSONResponse({"turns": self.turns.after(after)})

    async def _snapshot(self, _request: Request) -> Response:
        return JSONResponse(self.store.snapshot())

    # ------------------------------------------------------------------ MQTT device bridge

    async def _mqtt_bridge(self, websocket: WebSocket) -> None:
        """One real MQTT client per console tab: the browser speaks WebSocket, the broker MQTT."""
        thing = websocket.query_params.get("thing", "")
        if not THING.match(thing):
            await websocket.close(code=1008, reason="thing must be 1-128 of A-Z a-z 0-9 : _ -")
            return
        await websocket.accept()
        loop = asyncio.get_running_loop()
        incoming: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        client = _device_client(
            thing, self.mqtt, lambda topic, text: loop.call_soon_threadsafe(incoming.put_nowait, (topic, text))
        )
        try:
            await asyncio.to_thread(client.start)
        except (ConnectionError, OSError) as exc:
            await websocket.send_json({"type": "error", "message": f"MQTT broker unreachable: {exc}"})
            await websocket.close()
            return
        await websocket.send_json(
            {
                "type": "connected",
                "thing": thing,
                "publish": f"clawline/{thing}/in",
                "subscribe": f"clawline/{thing}/out",
            }
        )

        async def forward() -> None:
            while True:
                topic, text = await incoming.get()
                await websocket.send_json({"type": "message", "topic": topic, "payload": text})

        forwarding = asyncio.create_task(forward())
        try:
            while True:
                payload = await websocket.receive_text()
                client.client.publish(f"clawline/{thing}/in", payload.encode("utf-8"), qos=1)
                await websocket.send_json({"type": "published", "topic": f"clawline/{thing}/in", "payload": payload})
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            forwarding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await forwarding
            await asyncio.to_thread(client.stop)


def _device_client(thing: str, broker: tuple[str, int], deliver: Any) -> Any:
    from local.mqtt import PahoClient

    client = PahoClient(broker[0], broker[1], thing)
    # The IoT rule takes the thing from the topic and checks it against the client id: they must agree.
    out = f"clawline/{thing}/out"

    def on_connect(c: Any, *_args: Any) -> None:
        c.subscribe(out, qos=1)
        client._connected.set()

    client.client.on_connect = on_connect
    client.client.on_message = lambda _c, _u, msg: deliver(msg.topic, bytes(msg.payload).decode("utf-8", "replace"))
    # A second tab with the same thing would kick this one off the broker (same client id): say which one it is.
    client.client.user_data_set({"console": uuid.uuid4().hex[:6]})
    return client
