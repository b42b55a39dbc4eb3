"""Load check of the local runtime: many WebSocket clients and MQTT devices at once, every reply accounted for.

``python -m bench load`` runs 200 WebSocket clients and 200 MQTT devices, each sending 10 messages without
waiting for the replies (pipelined), and checks that every conversation gets every reply, in the order it
sent the messages, with none lost and none duplicated. The e2e suite runs the same check, smaller.

Clients are real: ``websockets`` (asyncio) for the WebSocket API, one paho-mqtt client per device.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

#: The default bot answers these on every channel without starting a form, so turns stay independent.
TEXTS = ["hi", "show me the menu", "help", "thanks", "hi"]


@dataclass
class LoadResult:
    ws_clients: int
    devices: int
    messages: int
    seconds: float = 0.0
    sent: dict[str, list[str]] = field(default_factory=dict)  # conversation -> message ids, in send order
    received: dict[str, list[str]] = field(default_factory=dict)  # conversation -> reply message ids, as received
    latencies_ms: list[float] = field(default_factory=list)  # send -> reply, per message
    errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Every conversation whose replies are not exactly its messages, in order, once each."""
        out = list(self.errors)
        for conversation, ids in self.sent.items():
            got = self.received.get(conversation, [])
            if got != ids:
                lost = [i for i in ids if i not in got]
                dup = sorted({i for i in got if got.count(i) > 1})
                out.append(
                    f"{conversation}: sent {len(ids)}, got {len(got)}; lost {lost[:3]}, duplicated {dup[:3]}"
                    + ("; out of order" if not lost and not dup else "")
                )
        return out

    @property
    def replies(self) -> int:
        return sum(len(v) for v in self.received.values())


async def _ws_client(runtime: Any, name: str, messages: int, result: LoadResult, wait: float) -> None:
    import websockets

    ids = [f"{name}-m{i}" for i in range(messages)]
    result.sent[name], result.received[name] = ids, []
    sent_at: dict[str, float] = {}
    try:
        async with websockets.connect(
            f"{runtime.ws_url}?token={runtime.token(f'load-{name}')}", open_timeout=wait, max_queue=None
        ) as ws:
            for i, message_id in enumerate(ids):
                sent_at[message_id] = time.perf_counter()
                await ws.send(json.dumps({"text": TEXTS[i % len(TEXTS)], "message_id": message_id}))
            for _ in ids:
                frame = json.loads(await asyncio.wait_for(ws.recv(), wait))
                message_id = str(frame.get("message_id"))
                if frame.get("type") != "reply":
                    result.errors.append(f"{name}: {frame}")
                result.received[name].append(message_id)
                if message_id in sent_at:
                    result.latencies_ms.append((time.perf_counter() - sent_at[message_id]) * 1000)
            # Anything more would be a duplicate: give it a moment to show up.
            with contextlib.suppress(TimeoutError):
                extra = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
                result.received[name].append(str(extra.get("message_id")))
    except Exception as exc:  # noqa: BLE001 - a failed client is a finding, not a crash of the check
        result.errors.append(f"{name}: {type(exc).__name__}: {exc}")


def _ws_clients(runtime: Any, count: int, messages: int, result: LoadResult, timeout: float, prefix: str) -> None:
    async def run() -> None:
        await asyncio.gather(
            *(_ws_client(runtime, f"{prefix}-ws-{n}", messages, result, timeout) for n in range(count))
        )

    asyncio.run(run())


def _devices(runtime: Any, count: int, messages: int, result: LoadResult, timeout: float, prefix: str) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    clients: list[Any] = []
    inbox: dict[str, queue.Queue[dict[str, Any]]] = {}
    subscribed = threading.Semaphore(0)
    sent_at: dict[str, float] = {}
    try:
        for n in range(count):
            thing = f"{prefix}-dev-{n}"
            inbox[thing] = queue.Queue()
            client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=thing)
            client.max_inflight_messages_set(messages)
            client.on_connect = lambda c, *_a, t=thing: c.subscribe(f"clawline/{t}/out", qos=1)
            client.on_subscribe = lambda *_a: subscribed.release()
            client.on_message = lambda _c, _u, msg, t=thing: inbox[t].put(json.loads(msg.payload))
            client.connect(runtime.mqtt_host, runtime.mqtt_port, keepalive=120)
            client.loop_start()
            clients.append(client)
        for _ in clients:
            if not subscribed.acquire(timeout=timeout):
                result.errors.append("a device could not subscribe")
                return
        for n, client in enumerate(clients):
            thing = f"{prefix}-dev-{n}"
            ids = [f"{thing}-m{i}" for i in range(messages)]
            result.sent[thing], result.received[thing] = ids, []
            for i, message_id in enumerate(ids):
                sent_at[message_id] = time.perf_counter()
                payload = {"text": TEXTS[i % len(TEXTS)], "message_id": message_id}
                client.publish(f"clawline/{thing}/in", json.dumps(payload), qos=1)
        deadline = time.monotonic() + timeout
        for thing, replies in inbox.items():
            while len(result.received[thing]) < messages:
                try:
                    frame = replies.get(timeout=max(0.01, deadline - time.monotonic()))
                except queue.Empty:
                    break
                message_id = str(frame.get("message_id"))
                if frame.get("type") != "reply":
                    result.errors.append(f"{thing}: {frame}")
                result.received[thing].append(message_id)
                if message_id in sent_at:
                    result.latencies_ms.append((time.perf_counter() - sent_at[message_id]) * 1000)
        # Anything arriving late would be a duplicate: give it a moment to show up.
        time.sleep(0.5)
        for thing, replies in inbox.items():
            while not replies.empty():
                result.received[thing].append(str(replies.get_nowait().get("message_id")))
    finally:
        for client in clients:
            client.disconnect()
            client.loop_stop()


def run_load(
    runtime: Any, *, ws_clients: int, devices: int, messages: int, timeout: float = 300.0, prefix: str = "load"
) -> LoadResult:
    """Drive the running runtime with both client populations at once and collect every reply."""
    result = LoadResult(ws_clients, devices, messages)
    started = time.perf_counter()
    threads = [
        threading.Thread(target=_ws_clients, args=(runtime, ws_clients, messages, result, timeout, prefix)),
        threading.Thread(target=_devices, args=(runtime, devices, messages, result, timeout, prefix)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 60)
    result.seconds = time.perf_counter() - started
    return result


@dataclass
class RemoteRuntime:
    """A `clawline dev` running in another process, as the load clients see it."""

    gateway_url: str
    ws_url: str
    mqtt_host: str
    mqtt_port: int

    def token(self, sub: str) -> str:
        import urllib.parse
        import urllib.request

        url = f"{self.gateway_url}/_local/token?{urllib.parse.urlencode({'sub': sub})}"
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=30) as response:
            return str(json.loads(response.read())["token"])


def _free_ports(n: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def main() -> None:
    import re
    import signal
    import subprocess
    import sys
    import tempfile
    import uuid
    from pathlib import Path

    ws_clients, devices, messages = 200, 200, 10
    load_before = os.getloadavg()[0]
    port, mqtt_port, moto_port = _free_ports(3)
    # The runtime in its own process (`clawline dev --isolated`, each function in a process of its own), so the
    # 400 clients here do not compete with it for one interpreter.
    log = Path(tempfile.mkstemp(prefix="clawline-load-", suffix=".log")[1])
    command = [
        str(Path(sys.executable).parent / "clawline"),
        "dev",
        "--isolated",
        "--port",
        str(port),
        "--mqtt-port",
        str(mqtt_port),
        "--moto-port",
        str(moto_port),
        # Pipelined turns queue for minutes on one instance per function (Lambda would scale out): a client
        # waiting that long for its first reply must not be closed as idle (API Gateway: 10 minutes).
        "--idle-timeout",
        "7200",
    ]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    # A terminated benchmark still stops the runtime it started (the finally below).
    signal.signal(signal.SIGTERM, lambda *_a: sys.exit(143))
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops everything" not in log.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"clawline dev did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        banner = log.read_text()
        ws_url = re.search(r"WebSocket\s+(\S+)", banner)
        assert ws_url is not None
        runtime = RemoteRuntime(f"http://127.0.0.1:{port}", ws_url.group(1), "127.0.0.1", mqtt_port)
        run = uuid.uuid4().hex[:6]
        # Warm every function so the numbers are not one cold start.
        run_load(runtime, ws_clients=1, devices=1, messages=1, prefix=f"warm-{run}")
        result = run_load(runtime, ws_clients=ws_clients, devices=devices, messages=messages, timeout=1800, prefix=run)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
    problems = result.problems()
    lat = sorted(result.latencies_ms) or [0.0]
    turns = ws_clients * messages + devices * messages
    p50, p95 = statistics.median(lat), lat[max(0, int(len(lat) * 0.95) - 1)]
    md = f"""## Local runtime load (`python -m bench load`)

{ws_clients} WebSocket clients and {devices} MQTT devices at once, each sending {messages} messages without
waiting (pipelined), against `clawline dev --isolated --idle-timeout 7200` (each function in its own
process, moto server, embedded amqtt broker) started by the benchmark; the clients run in the benchmark's
process.

| metric | value |
|---|---|
| turns sent | {turns} |
| replies received | {result.replies} |
| conversations with lost, duplicated or out-of-order replies | {len(problems)} |
| wall time | {result.seconds:.1f} s |
| throughput | {result.replies / result.seconds:.1f} replies/s |
| send -> reply latency p50 / p95 / max | {p50:.0f} / {p95:.0f} / {lat[-1]:.0f} ms |

Each function is one warm instance, so a function's turns run one after another (as on one Lambda instance)
and latency is mostly queueing behind the other clients' turns. Each warm turn makes two DynamoDB calls to
moto's server (a Query and a conditional PutItem), plus a rate-limit lease about once per ten turns. The runtime's
moto reads only the queried partition (`local/motoserver.py`); plain moto lists and sorts the whole table for each
Query, so its turns slow down as the table fills ("moto Query" below).
1-minute load average before the run: {load_before:.1f} on
{os.cpu_count()} cores (the runtime, moto, the broker and the clients themselves are the rest of the load).
"""
    print(md)
    if problems:
        print("\n".join(problems[:20]))
    from bench.report import update_section

    update_section("load", md)
    if problems:
        raise SystemExit(1)
