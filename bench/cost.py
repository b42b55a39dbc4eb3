"""What one turn costs: AWS requests, capacity units, KMS calls, log bytes and duration, and $ per million turns.

``python -m bench cost`` drives turns of one conversation per channel through the real handlers (in process)
against moto's server, with the template's settings (KMS field encryption, the per-user rate limit, INFO logs),
and reports for the first turn and the 10th:

- **measured**: AWS requests by operation (every botocore call in the process, ``bench.meter``), DynamoDB read
  and write units (**computed from the stored and returned items by DynamoDB's documented size rules**: moto's
  ``ReturnConsumedCapacity`` is a constant, so it is not used), KMS calls, the bytes the function logs (its
  stdout: Powertools log lines at the template's INFO level and the EMF metrics blob), the handler's CPU time;
- **modelled**: the Lambda duration billed in the cloud (the measured CPU time scaled to the CPU share of the
  template's memory size, plus a network latency per AWS request), Lambda's own start/report log lines (none at
  the template's ``SystemLogLevel: WARN``), the authorizer invocations the template's caching leaves, X-Ray's
  sampling (none unless ``FunctionTracing=Active``), WebSocket connection minutes.

The settings the cost depends on (memory size, system log level, tracing) are read from ``template.yaml``'s
defaults (``TemplateDefaults``), so the figures follow the template rather than a copy of it.

The cost per million turns is computed line by line from ``bench.prices`` (dated, sourced) for a warm turn:
the average of turns 2..N of one conversation (so the rate limiter's occasional lease is counted).
"""

from __future__ import annotations

import base64
import json
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import meter as metering
from bench.prices import DATE, PRICES, REGION, SOURCES

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = ("http", "websocket", "mqtt")
#: Short messages the default bot answers on every channel (as in ``bench.load``).
TEXTS = ["hi", "show me the menu", "help", "thanks", "hi"]
TURNS = int(os.environ.get("CLAWLINE_COST_TURNS", "10"))
#: Conversations measured per channel; the report shows the median one (``median_round``).
ROUNDS = int(os.environ.get("CLAWLINE_COST_ROUNDS", "5"))

# ---- what the template deploys, and the model's assumptions (all stated in the report) ----------------------


@dataclass(frozen=True)
class TemplateDefaults:
    """What a deploy with ``template.yaml``'s parameter defaults configures for the message functions."""

    memory_mb: int
    authorizer_memory_mb: int
    log_format: str
    application_log_level: str
    system_log_level: str
    tracing: str

    @classmethod
    def read(cls, **overrides: str) -> TemplateDefaults:
        from local.template import Template

        template = Template.read(**overrides)
        glob = template.data["Globals"]["Function"]
        http = template.resources["HttpFunction"]["Properties"]
        logging = template.resolve(http["LoggingConfig"])
        authorizer = template.resources["AuthorizerFunction"]["Properties"]
        return cls(
            memory_mb=int(template.resolve(http.get("MemorySize", glob["MemorySize"]))),
            authorizer_memory_mb=int(template.resolve(authorizer.get("MemorySize", glob["MemorySize"]))),
            log_format=str(logging.get("LogFormat", "Text")),
            application_log_level=str(logging.get("ApplicationLogLevel", "INFO")),
            system_log_level=str(logging.get("SystemLogLevel", "INFO")),
            tracing=str(template.resolve(http.get("Tracing", glob.get("Tracing", "PassThrough")))),
        )

    @property
    def cpu_share(self) -> float:
        """Lambda gives a full vCPU at 1,769 MB and a proportional share below it."""
        return min(1.0, self.memory_mb / 1769)

    @property
    def platform_log_events(self) -> int:
        """Lambda's own log events per invocation: start and report (and END in text format) at INFO; none at WARN
        for an invocation that succeeds ("Lambda automatically sends start and report log messages" only at the
        default INFO system log level: Lambda developer guide, Log-level filtering)."""
        if self.system_log_level == "WARN":
            return 0
        return 2 if self.log_format == "JSON" else 3

    @property
    def xray_sampled(self) -> float:
        """Share of turns traced: Lambda's fixed rule (1/s + 5%) under Active; none under PassThrough, since
        neither the HTTP API, the WebSocket API nor IoT Core sends a sampled trace header."""
        return XRAY_DEFAULT_RULE_SAMPLED if self.tracing == "Active" else 0.0


DEFAULTS = TemplateDefaults.read()
#: The settings an operator opts into while investigating (system log level INFO, tracing Active).
INVESTIGATING = TemplateDefaults.read(FunctionSystemLogLevel="INFO", FunctionTracing="Active")
#: Round trip of one request to a regional AWS endpoint from Lambda, in ms.
LATENCY_MS = {"dynamodb": 6.0, "kms": 8.0, "apigatewaymanagementapi": 12.0, "iot-data": 12.0, "sqs": 10.0}
#: HTTP API caches the authorizer's answer for 300 s: a session of 10 turns within that costs one invocation.
AUTHORIZER_CALLS_PER_TURN = {"http": 0.1, "websocket": 0.1, "mqtt": 0.0}  # WebSocket: once per connection
AUTHORIZER_MS = 10.0
#: Lambda's sampling under active tracing (1 request/s plus 5% of the rest; Lambda does not apply X-Ray sampling
#: rules): at 100 turns/s that is about 6% of turns.
XRAY_DEFAULT_RULE_SAMPLED = 0.06
#: Lambda's start and report lines per invocation, in bytes (text: START, END, REPORT with its XRAY line, about
#: 360 bytes; the JSON platform.start and platform.report records are about the same size).
PLATFORM_LOG_BYTES = 360
#: CloudWatch Logs counts 26 bytes per event on top of the message.
LOG_EVENT_OVERHEAD = 26
#: A WebSocket session of 10 turns over 5 minutes.
WS_CONNECTION_MINUTES_PER_TURN = 0.5
GOALS = {"http": 3.00, "websocket": 3.70, "mqtt": 4.00}


@dataclass
class TurnCost:
    channel: str
    turn: int
    operations: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    item_bytes: int = 0
    log_bytes: int = 0
    log_lines: int = 0
    cpu_ms: float = 0.0
    wall_ms: float = 0.0
    reply_ok: bool = False

    @property
    def kms_calls(self) -> int:
        return sum(n for op, n in self.operations.items() if op.startswith("kms."))

    @property
    def modelled_ms(self) -> float:
        network = sum(LATENCY_MS.get(op.split(".")[0], 10.0) * n for op, n in self.operations.items())
        return self.cpu_ms / DEFAULTS.cpu_share + network


def _event(path: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "events" / path).read_text(encoding="utf-8"))
    return data


class _Context:
    """The attributes of Lambda's context object the handlers and Powertools read."""

    def __init__(self, function_name: str, request_id: str | None = None) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = DEFAULTS.memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "2026/12/01/[$LATEST]bench"
        self._deadline = time.time() + 15

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.time()) * 1000)


def _body(text: str, conversation: str, i: int, *, named: bool) -> str:
    """A message of ``conversation``; ``named=False`` leaves its id out (the user's current conversation)."""
    body = {"text": text, "conversation_id": conversation, "message_id": f"{conversation}-{i}"}
    if not named:
        del body["conversation_id"]
    return json.dumps(body)


def http_invoker(principal: str, conversation: str, *, named: bool = True) -> Callable[[int, str], bool]:
    import http_app

    def invoke(i: int, text: str) -> bool:
        event = _event("http/post_message.json")
        event["headers"].pop("content-length", None)
        event["requestContext"]["authorizer"] = {"lambda": {"sub": principal, "scope": "chat"}}
        event["body"] = _body(text, conversation, i, named=named)
        response = http_app.handler(event, _Context("clawline-http"))
        return bool(response.get("statusCode") == 200)

    return invoke


def websocket_invoker(
    principal: str, conversation: str, recorder: Any, *, named: bool = True
) -> Callable[[int, str], bool]:
    import websocket_handler

    connection = f"{conversation}-conn="
    authorizer = {"principalId": principal, "sub": principal, "scope": "chat", "integrationLatency": 0}
    connect = _event("websocket/connect.json")
    connect["requestContext"]["connectionId"] = connection
    connect["requestContext"]["authorizer"] = dict(authorizer)
    websocket_handler.handler(connect, _Context("clawline-websocket"))

    def invoke(i: int, text: str) -> bool:
        event = _event("websocket/message.json")
        event["requestContext"]["connectionId"] = connection
        event["requestContext"]["authorizer"] = dict(authorizer)  # what API Gateway passes from $connect
        event["body"] = _body(text, conversation, i, named=named)
        seen = len(recorder.posts) if recorder is not None else 0
        websocket_handler.handler(event, _Context("clawline-websocket"))
        if recorder is None:
            return True
        frames = [json.loads(d) for c, d in recorder.posts[seen:] if c == connection]
        return bool(frames) and frames[-1].get("type") == "reply"

    return invoke


def mqtt_invoker(thing: str) -> Callable[[int, str], bool]:
    import mqtt_handler

    def invoke(i: int, text: str) -> bool:
        event = _event("mqtt/message.json")
        event["payload"] = base64.b64encode(json.dumps({"text": text, "message_id": f"{thing}-{i}"}).encode()).decode()
        event["thing"] = event["client_id"] = thing
        return bool(mqtt_handler.handler(event, _Context("clawline-mqtt")).get("status") == "replied")

    return invoke


@contextmanager
def captured_stdout() -> Iterator[list[bytes]]:
    """What the process writes to fd 1 (where Lambda's log lines go) while the block runs."""
    out: list[bytes] = []
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield out
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
            sink.seek(0)
            out.append(sink.read())


def measure_turns(channel: str, invoke: Callable[[int, str], bool], turns: int, *, logs: bool) -> list[TurnCost]:
    """Run ``turns`` turns of one conversation through ``invoke``, metering each."""
    results: list[TurnCost] = []
    with metering.metering() as meter:
        for i in range(1, turns + 1):
            mark = meter.mark()
            cost = TurnCost(channel, i)
            with captured_stdout() if logs else _nothing() as out:
                wall, cpu = time.perf_counter(), time.process_time()
                cost.reply_ok = invoke(i, TEXTS[(i - 1) % len(TEXTS)])
                cost.cpu_ms = (time.process_time() - cpu) * 1000
                cost.wall_ms = (time.perf_counter() - wall) * 1000
            if logs and out:
                cost.log_bytes = len(out[0])
                cost.log_lines = out[0].count(b"\n")
            calls = meter.since(mark)
            cost.operations = metering.operations(calls)
            cost.read_units, cost.write_units = metering.units(calls)
            cost.item_bytes = max((c.item_bytes for c in calls if c.operation == "PutItem"), default=0)
            results.append(cost)
    return results


@contextmanager
def _nothing() -> Iterator[list[bytes]]:
    yield []


def per_million(channel: str, warm: list[TurnCost], settings: TemplateDefaults = DEFAULTS) -> list[tuple[str, float]]:
    """Cost lines (USD per million turns) from the average of the warm turns, under ``settings``."""
    n = len(warm)

    def avg(f: Callable[[TurnCost], float]) -> float:
        return sum(f(t) for t in warm) / n

    p = PRICES
    lines: list[tuple[str, float]] = []
    if channel == "http":
        lines.append(("API Gateway HTTP API request", p["http_api_per_million_requests"]))
    elif channel == "websocket":
        lines.append(("API Gateway WebSocket messages (in + out)", 2 * p["websocket_per_million_messages"]))
        lines.append(
            (
                "WebSocket connection minutes",
                WS_CONNECTION_MINUTES_PER_TURN * p["websocket_per_million_connection_minutes"],
            )
        )
    else:
        lines.append(("IoT Core messages (publish in + reply out)", 2 * p["iot_per_million_messages"]))
        lines.append(
            (
                "IoT rule triggered + Lambda action",
                p["iot_rules_per_million_triggered"] + p["iot_rules_per_million_actions"],
            )
        )
    lines.append(("Lambda requests", p["lambda_per_million_requests"]))
    gb_s = settings.memory_mb / 1024 * avg(lambda t: t.modelled_ms) / 1000
    lines.append(
        (
            f"Lambda duration ({avg(lambda t: t.modelled_ms):.0f} ms modelled at {settings.memory_mb} MB arm64)",
            gb_s * p["lambda_arm64_per_gb_second"] * 1e6,
        )
    )
    auth = AUTHORIZER_CALLS_PER_TURN[channel]
    if auth:
        auth_cost = auth * (
            p["lambda_per_million_requests"]
            + settings.authorizer_memory_mb / 1024 * AUTHORIZER_MS / 1000 * p["lambda_arm64_per_gb_second"] * 1e6
        )
        lines.append((f"authorizer ({auth} invocations per turn, cached)", auth_cost))
    lines.append(
        (
            f"DynamoDB writes ({avg(lambda t: t.write_units):.2f} units)",
            avg(lambda t: t.write_units) * p["dynamodb_per_million_write_units"],
        )
    )
    lines.append(
        (
            f"DynamoDB reads ({avg(lambda t: t.read_units):.2f} units)",
            avg(lambda t: t.read_units) * p["dynamodb_per_million_read_units"],
        )
    )
    lines.append(
        (f"KMS ({avg(lambda t: t.kms_calls):.2f} calls)", avg(lambda t: t.kms_calls) * p["kms_per_10k_requests"] * 100)
    )
    platform_events = settings.platform_log_events
    log_bytes = avg(lambda t: t.log_bytes + LOG_EVENT_OVERHEAD * t.log_lines) + (
        (PLATFORM_LOG_BYTES + LOG_EVENT_OVERHEAD * platform_events) if platform_events else 0
    )
    lines.append((f"CloudWatch Logs ({log_bytes:.0f} bytes)", log_bytes / 1e9 * p["logs_per_gb_ingested"] * 1e6))
    sampled = settings.xray_sampled
    lines.append((f"X-Ray ({sampled:.0%} sampled)", sampled * p["xray_per_million_traces"]))
    return lines


def run(turns: int = TURNS, *, logs: bool = True, recorder: Any = None) -> dict[str, list[TurnCost]]:
    """Every channel, in the environment the caller configured (tables, endpoints, encryption)."""
    from clawline import composition

    composition.reset()
    tag = uuid.uuid4().hex[:6]
    invokers = {
        "http": http_invoker(f"cost-user-{tag}", f"cost-http-{tag}"),
        "websocket": websocket_invoker(f"cost-ws-user-{tag}", f"cost-ws-{tag}", recorder),
        "mqtt": mqtt_invoker(f"cost-device-{tag}"),
    }
    # One turn of another conversation first: the container is warm (imports, clients, NLU) for what is measured.
    for channel in invokers:
        _warm_up(channel, tag, recorder)
    return {channel: measure_turns(channel, invoke, turns, logs=logs) for channel, invoke in invokers.items()}


def _warm_up(channel: str, tag: str, recorder: Any) -> bool:
    if channel == "http":
        return http_invoker(f"warm-{tag}", f"warm-http-{tag}")(0, "hi")
    if channel == "websocket":
        return websocket_invoker(f"warm-{tag}", f"warm-ws-{tag}", recorder)(0, "hi")
    return mqtt_invoker(f"warm-{tag}")(0, "hi")


def cold_decrypts(channel_invoke: Callable[[int, str], bool], i: int) -> int:
    """KMS calls of a turn of an existing conversation on a fresh container (every cache forgotten)."""
    from clawline import composition

    composition.reset()
    with metering.metering() as meter:
        if not channel_invoke(i, "hi"):
            raise RuntimeError("the cold container's turn was not answered: its KMS calls would mean nothing")
    return sum(1 for c in meter.calls if c.service == "kms")


# ---- the benchmark: its own moto server and loopback data planes ------------------------------------------------


@contextmanager
def environment() -> Iterator[Any]:
    from local.template import Template, create_tables
    from tests.helpers.aws import Recorder, client, serve_recorder

    for name, value in (
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ):
        os.environ.setdefault(name, value)
    # moto in its own process: the CPU time measured in this one is then the handler's alone.
    server = _moto_process()
    endpoint = server.endpoint
    recorder = Recorder()
    serving = serve_recorder(recorder)
    recorder_url = next(serving)
    template = Template.read()
    tables = create_tables(client("dynamodb", endpoint), template, suffix="-cost")
    key_arn = client("kms", endpoint).create_key(Description="bench cost")["KeyMetadata"]["Arn"]
    queue = client("sqs", endpoint).create_queue(QueueName="cost-dlq")["QueueUrl"]
    env = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_KMS": endpoint,
        "AWS_ENDPOINT_URL_SQS": endpoint,
        "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": f"{recorder_url}/dev",
        "AWS_ENDPOINT_URL_IOT_DATA_PLANE": recorder_url,
        "POWERTOOLS_SERVICE_NAME": "clawline",
        "POWERTOOLS_METRICS_NAMESPACE": "Clawline",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_LOGGER_LOG_EVENT": "false",
        "POWERTOOLS_TRACE_DISABLED": "1",  # no X-Ray daemon here; segments go over UDP, never to the logs
        "CLAWLINE_BOT_PATH": str(ROOT / "bots" / "default"),
        "CLAWLINE_STATE_TABLE": tables["StateTable"],
        "CLAWLINE_CONNECTIONS_TABLE": tables["ConnectionsTable"],
        "CLAWLINE_RATE_LIMIT_TABLE": tables["RateLimitTable"],
        "CLAWLINE_RATE_LIMIT_CAPACITY": "20",
        "CLAWLINE_RATE_LIMIT_PER_SECOND": "1",
        "CLAWLINE_ENCRYPTION": "kms",
        "CLAWLINE_KMS_KEY_ARN": key_arn,
        "CLAWLINE_DEAD_LETTER_QUEUE_URL": queue,
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    for path in ("functions/http", "functions/websocket", "functions/mqtt"):
        if str(ROOT / path) not in sys.path:
            sys.path.insert(0, str(ROOT / path))
    try:
        yield recorder
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        next(serving, None)
        server.stop()


@dataclass
class _MotoProcess:
    process: Any
    endpoint: str

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _moto_process() -> _MotoProcess:
    from bench.moto_query import start_server

    return _MotoProcess(*start_server("local.motoserver"))


def _ops(t: TurnCost) -> str:
    return ", ".join(f"{op} x{n}" for op, n in sorted(t.operations.items()))


def report(results: dict[str, list[TurnCost]], cold: dict[str, int]) -> str:
    rows = [
        "| channel | turn | AWS requests | read units | write units | turn item | KMS calls | log bytes (lines) "
        "| handler CPU ms | wall ms (moto) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for channel, turns in results.items():
        rows.extend(
            f"| {channel} | {t.turn} | {_ops(t)} | {t.read_units:g} | {t.write_units:g} | {t.item_bytes} B "
            f"| {t.kms_calls} | {t.log_bytes} ({t.log_lines}) | {t.cpu_ms:.1f} | {t.wall_ms:.1f} |"
            for t in (turns[0], turns[min(9, len(turns) - 1)])
        )
    cost_rows = ["| line | " + " | ".join(results) + " |", "|---|" + "---:|" * len(results)]
    lines = {channel: per_million(channel, turns[1:]) for channel, turns in results.items()}
    labels: list[str] = []
    for channel_lines in lines.values():
        for label, _v in channel_lines:
            short = label.split(" (")[0]
            if short not in labels:
                labels.append(short)
    for short in labels:
        cells = []
        for channel in results:
            found = [(label, v) for label, v in lines[channel] if label.split(" (")[0] == short]
            cells.append(f"{found[0][1]:.3f} <br>{found[0][0][len(short) :].strip(' ()')}" if found else "-")
        cost_rows.append(f"| {short} | " + " | ".join(cells) + " |")
    totals = {channel: sum(v for _l, v in lines[channel]) for channel in results}
    cost_rows.append(
        "| **total** | "
        + " | ".join(
            f"**{totals[c]:.2f}** (goal {GOALS[c]:.2f}: {'met' if totals[c] <= GOALS[c] else 'MISSED'})"
            for c in results
        )
        + " |"
    )
    # What an operator pays while investigating: Lambda's start/report lines back (FunctionSystemLogLevel=INFO) and
    # X-Ray on (FunctionTracing=Active). Same measured turns, other settings.
    investigating = {c: sum(v for _l, v in per_million(c, results[c][1:], INVESTIGATING)) for c in results}
    cost_rows.append(
        "| total with FunctionSystemLogLevel=INFO and FunctionTracing=Active (opt-in) | "
        + " | ".join(f"{investigating[c]:.2f} ({'met' if investigating[c] <= GOALS[c] else 'over'})" for c in results)
        + " |"
    )
    d = DEFAULTS
    sources = ", ".join(f"[{k}]({v})" for k, v in SOURCES.items())
    cold_calls = ", ".join(f"{c}: {n}" for c, n in cold.items())
    return f"""## Cost per turn (`python -m bench cost`)

{len(next(iter(results.values())))} turns of one conversation per channel through the real handlers (in process) against
moto's server, {ROUNDS} conversations per channel, the median one (by cost per million turns) shown; with the
template's defaults: KMS field encryption, the per-user rate limit (20 at once, 1/s),
{d.memory_mb} MB arm64, {d.log_format} logs at application level {d.application_log_level} and system level
{d.system_log_level}, tracing {d.tracing}. Each container was warmed by one turn of another conversation first.

**Measured per turn** (first turn of the conversation, and its 10th):

{chr(10).join(rows)}

Read and write units are **computed from the items** (request and response) by DynamoDB's documented size rules
(`bench/meter.py`); moto's `ReturnConsumedCapacity` answers a constant, so it is not used. The first turn pays
the conversation's data key (`kms.GenerateDataKey`) and the rate limiter's lease (`UpdateItem`, 10 tokens per
lease); a turn of an existing conversation on a **cold container** made {cold_calls} KMS call(s)
(one `Decrypt` of the conversation's key). Log bytes are the function's own stdout at the template's levels: a turn
writes one line, its EMF document, which also carries what the Logs Insights widgets read (`intent`, and on a
fallback `fallback` and the masked `utterance`).

**Cost per million turns (USD)**, warm turns 2..{len(next(iter(results.values())))} averaged, {REGION} list prices
of {DATE} (`bench/prices.py`; {sources}):

{chr(10).join(cost_rows)}

Modelled, not measured: Lambda's billed duration (the handler's measured CPU time / {d.cpu_share:.2f}, the CPU
share of {d.memory_mb} MB, plus {LATENCY_MS["dynamodb"]:.0f} ms per DynamoDB request, {LATENCY_MS["kms"]:.0f} ms per
KMS request and 12 ms per PostToConnection / iot-data Publish); Lambda's own start/report lines: none at system
level WARN for an invocation that succeeds, {PLATFORM_LOG_BYTES} bytes at INFO; CloudWatch's 26 bytes per log
event; one authorizer invocation per 10 HTTP turns (the 300 s cache over a session) and per WebSocket connection
of 10 turns; X-Ray: nothing under PassThrough (no entry point sends a sampled trace header), Lambda's fixed rule
under Active (1 request/s + 5%: about {XRAY_DEFAULT_RULE_SAMPLED:.0%} of turns at 100 turns/s);
{WS_CONNECTION_MINUTES_PER_TURN} connection minutes per WebSocket turn. Free tiers are left out. Fixed monthly
costs (custom metrics, alarms, the KMS key, log storage) do not scale with turns and are not in these lines.
"""


def median_round(rounds: list[dict[str, list[TurnCost]]]) -> dict[str, list[TurnCost]]:
    """Per channel, the round (one conversation of ``TURNS`` turns) whose cost per million turns is the median.

    Request counts, units and log bytes are the same in every round; the handler's CPU time is not, on a machine
    other jobs share, and it drives the modelled Lambda duration. The median round is reported whole, so its
    table rows and its cost lines are the same measurement.
    """

    def total(channel: str, turns: list[TurnCost]) -> float:
        return sum(v for _label, v in per_million(channel, turns[1:]))

    return {
        channel: sorted((r[channel] for r in rounds), key=lambda turns: total(channel, turns))[len(rounds) // 2]
        for channel in rounds[0]
    }


def main() -> None:
    from bench.report import update_section

    with environment() as recorder:
        rounds = [run(TURNS, logs=True, recorder=recorder) for _ in range(ROUNDS)]
        results = median_round(rounds)
        tag = uuid.uuid4().hex[:6]
        cold = {}
        # One principal per channel: each fresh container leases half the principal's burst, so channels sharing
        # one would exhaust it and the cold turn would be refused (rate limited) rather than measured.
        for channel, make in (
            ("http", lambda: http_invoker(f"cold-http-{tag}", f"cold-http-{tag}")),
            ("websocket", lambda: websocket_invoker(f"cold-ws-{tag}", f"cold-ws-{tag}", recorder)),
            ("mqtt", lambda: mqtt_invoker(f"cold-mqtt-{tag}")),
        ):
            invoke = make()
            if not invoke(1, "hi"):
                raise RuntimeError(f"{channel}: the conversation's first turn was not answered")
            cold[channel] = cold_decrypts(invoke, 2)
    text = report(results, cold)
    print(text)
    update_section("cost", text)


if __name__ == "__main__":
    main()
