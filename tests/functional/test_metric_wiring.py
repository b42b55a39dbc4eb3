"""Every dashboard widget and every alarm reads a series the code emits, and every alarm fires on its failure.

The template is translated by the SAM transform (tests/iac/translate.py); each widget's metrics (arrays and
``SEARCH`` expressions) and each alarm's metric or metric-math inputs are extracted. Then turns are driven through
the real handlers on all three channels (healthy turns, a plugin call, a plugin failure, NLU fallbacks, rejected
input, an engine error, a transient MQTT failure, a flood, bad tokens) and the EMF lines they print are collected.
CloudWatch never aggregates across dimension sets, so a widget or alarm naming a (namespace, metric, dimension set)
that no handler printed stays empty forever: that is a failure here.

For each alarm, its expression is evaluated on the data points the failure it watches produced (the template's
default thresholds) and must cross the threshold; the healthy turns alone must not.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

import authorizer
import http_app
import mqtt_handler
import websocket_handler
from clawline import composition
from clawline.errors import RetryableError
from tests.functional import metric_math as mm
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context
from tests.helpers.plugins import manifest, write_manifest
from tests.helpers.tokens import Issuer
from tests.iac.conftest import translate

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = {"HttpFunction", "WebSocketFunction", "MqttFunction", "AuthorizerFunction", "ReminderFunction"}
CHANNELS = ("http", "websocket", "mqtt")
GIBBERISH = "qwzx blorf vrenk"
EXPLODE = "make the engine explode"

PLUGINS = """
import asyncio
from clawline.plugins.base import BasePlugin, PluginResult


class Raiser(BasePlugin):
    name = "raiser"

    async def action(self, ctx, params):
        raise RuntimeError("the plugin's backend is down")


class Sleeper(BasePlugin):
    name = "sleeper"

    async def action(self, ctx, params):
        await asyncio.sleep(0.25)
        return PluginResult(replies=["slept"])
"""

RULES = """
  - name: plugin_failure
    priority: 90
    when: text == "boom"
    then:
      - plugin: raiser
  - name: slow_turn
    priority: 90
    when: text == "slow"
    then:
      - plugin: sleeper
"""


@pytest.fixture
def wired_bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default bot plus a failing and a slow plugin, loaded from YAML like any deployment's plugins."""
    module = f"wiring_plugins_{id(tmp_path)}"
    (tmp_path / f"{module}.py").write_text(PLUGINS, encoding="utf-8")
    plugins = [manifest("Raiser", "raiser", ["action"]), manifest("Sleeper", "sleeper", ["action"])]
    write_manifest(tmp_path / f"{module}.py", *plugins)
    monkeypatch.syspath_prepend(str(tmp_path))
    bot = tmp_path / "bot"
    shutil.copytree(ROOT / "bots" / "default", bot)
    yaml = (bot / "bot.yaml").read_text(encoding="utf-8")
    yaml += f'  - {{module: "{module}", class: "Raiser"}}\n  - {{module: "{module}", class: "Sleeper"}}\n'
    (bot / "bot.yaml").write_text(yaml, encoding="utf-8")
    rules = (bot / "rules.yaml").read_text(encoding="utf-8")
    (bot / "rules.yaml").write_text(rules.replace("rules:\n", "rules:\n" + RULES[1:], 1))
    return bot


# ----------------------------------------------------------------------------------------------- the template


def resolver(cfn: dict[str, Any]) -> Any:
    params = {k: str(v.get("Default", "")) for k, v in cfn["Parameters"].items()}

    def name(ref: str) -> str:
        return "us-east-1" if ref == "AWS::Region" else params.get(ref, ref)

    def resolve(value: Any) -> str:
        if not isinstance(value, dict):
            return str(value)
        if "Ref" in value:
            return name(value["Ref"])
        if "Fn::GetAtt" in value:
            return ".".join(value["Fn::GetAtt"])
        if "Fn::Sub" in value:
            return re.sub(r"\$\{([^}!]+)\}", lambda m: name(m[1]), value["Fn::Sub"])
        raise AssertionError(f"cannot resolve {value}")

    return resolve


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translate()


def dashboard(cfn: dict[str, Any]) -> list[dict[str, Any]]:
    (dash,) = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    widgets: list[dict[str, Any]] = json.loads(resolver(cfn)(dash["Properties"]["DashboardBody"]))["widgets"]
    return widgets


def alarms(cfn: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: r["Properties"] for k, r in cfn["Resources"].items() if r["Type"] == "AWS::CloudWatch::Alarm"}


# ----------------------------------------------------------------------------------------------- driving turns


class Drive:
    """Invokes the handlers like API Gateway and IoT Core do; collects EMF per phase and Lambda's own outcomes."""

    def __init__(self, stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
        self.stack = stack
        self.capsys = capsys
        self.documents: dict[str, list[dict[str, Any]]] = {}
        self.lambda_errors: dict[str, dict[str, int]] = {}
        self.phase = ""
        self.n = 0

    def start(self, phase: str) -> None:
        self.flush()
        self.phase = phase

    def flush(self) -> None:
        for line in self.capsys.readouterr().out.splitlines():
            if line.startswith("{"):
                doc = json.loads(line)
                if "_aws" in doc:
                    self.documents.setdefault(self.phase, []).append(doc)

    def _invoke(self, function: str, module: Any, event: dict[str, Any]) -> Any:
        try:
            return module.handler(event, lambda_context(f"clawline-{function}"))
        except Exception:  # noqa: BLE001 - Lambda counts any invocation that raised in its Errors metric
            errors = self.lambda_errors.setdefault(self.phase, {})
            errors[function] = errors.get(function, 0) + 1
            return None

    def http(self, text: str, sub: str = "user-123") -> Any:
        self.n += 1
        event = load_event("http/post_message.json")
        event["requestContext"]["authorizer"]["lambda"]["sub"] = sub
        event["body"] = json.dumps({"text": text, "conversation_id": f"c-{self.n}", "message_id": f"h-{self.n}"})
        return self._invoke("HttpFunction", http_app, event)

    def http_raw(self, fixture: str) -> Any:
        return self._invoke("HttpFunction", http_app, load_event(fixture))

    def ws(self, body: str | dict[str, Any], connection_id: str | None = None) -> Any:
        self.n += 1
        event = load_event("websocket/message.json")
        if connection_id is not None:
            event["requestContext"]["connectionId"] = connection_id
        if isinstance(body, dict):
            body = json.dumps({**body, "message_id": f"w-{self.n}", "conversation_id": f"c-{self.n}"})
        event["body"] = body
        return self._invoke("WebSocketFunction", websocket_handler, event)

    def mqtt(self, payload: str | dict[str, Any], thing: str | None = None) -> Any:
        import base64

        self.n += 1
        event = load_event("mqtt/message.json")
        if thing is not None:
            event["thing"] = event["client_id"] = thing
        if isinstance(payload, dict):
            payload = json.dumps({**payload, "message_id": f"m-{self.n}"})
        event["payload"] = base64.b64encode(payload.encode()).decode()
        return self._invoke("MqttFunction", mqtt_handler, event)

    def deny(self, token: str) -> Any:
        event = load_event("authorizer/http_request.json")
        event["headers"]["authorization"] = f"Bearer {token}"
        return self._invoke("AuthorizerFunction", authorizer, event)


@pytest.fixture
def driven(
    stack: Stack,
    issuer: Issuer,
    wired_bot: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Drive:
    monkeypatch.setenv("CLAWLINE_BOT_PATH", str(wired_bot))
    monkeypatch.setenv("CLAWLINE_RATE_LIMIT_CAPACITY", "10")
    monkeypatch.setenv("CLAWLINE_RATE_LIMIT_PER_SECOND", "0.01")
    composition.reset()
    mqtt_handler.dead_letters.cache_clear()
    capsys.readouterr()
    d = Drive(stack, capsys)
    websocket_handler.handler(load_event("websocket/connect.json"), lambda_context("clawline-websocket"))

    # A container's first turns import and build what they need (the NLU's model, the plugin, each
    # channel's client; from a fresh clone, bytecode too): a cold start, which Lambda's Init duration reports, not
    # what the latency alarm's test threshold (200 ms for the default 3,000) is sized for. The same turns, once,
    # from other principals (the phases below count on their own rate-limit buckets).
    d.start("warm_up")
    d.http("hello there", sub="warm-up")
    connect = load_event("websocket/connect.json")
    connect["requestContext"]["connectionId"] = "warm-up="
    connect["requestContext"]["authorizer"].update({"principalId": "warm-up", "sub": "warm-up"})
    websocket_handler.handler(connect, lambda_context("clawline-websocket"))
    d.ws({"text": "hello there"}, connection_id="warm-up=")
    d.mqtt({"text": "hello there"}, thing="warm-up-device")
    d.http("cancel my order", sub="warm-up")

    d.start("healthy")
    d.http("hello there")
    d.ws({"text": "hello there"})
    d.mqtt({"text": "hello there"})
    d.http("cancel my order")  # the sample plugin: a plugin call that succeeds

    d.start("plugin_failure")
    d.http("boom")

    d.start("fallback")
    for send in (d.http, lambda t: d.ws({"text": t}), lambda t: d.mqtt({"text": t})):
        send(GIBBERISH)

    d.start("rejected")
    d.http_raw("http/unknown_field.json")
    d.ws("{not json")
    d.mqtt("{not json")  # a permanent error: error reply to the device and a dead letter

    d.start("engine_error")
    engine = composition.engine()
    assert engine.nlu is not None
    parse = engine.nlu.parse

    def broken(text: str) -> Any:
        if text == EXPLODE:
            raise RuntimeError("a bug in the NLU backend")
        return parse(text)

    monkeypatch.setattr(engine.nlu, "parse", broken)
    for send in (d.http, lambda t: d.ws({"text": t}), lambda t: d.mqtt({"text": t})):
        send(EXPLODE)

    d.start("slow")
    d.http("slow")

    d.start("function_error")
    runner = composition.turn_runner()

    def unavailable(message: Any) -> Any:
        raise RetryableError("storage is busy, try again")

    runner.run_once = unavailable  # type: ignore[method-assign]
    d.mqtt({"text": "hello again"})  # transient: the function raises so Lambda retries
    del runner.run_once

    d.start("flood")
    for _ in range(12):
        d.http("hello there", sub="flooder")

    d.start("bad_tokens")
    for token in ("not-a-jwt", issuer.token(exp=1), Issuer().token()):
        d.deny(token)
    d.flush()
    return d


# ----------------------------------------------------------------------------------------------- the checks


def all_series(d: Drive) -> dict[mm.Series, list[float]]:
    return mm.emitted_series(doc for docs in d.documents.values() for doc in docs)


def test_every_dashboard_widget_and_alarm_reads_a_series_the_handlers_emit(cfn: dict[str, Any], driven: Drive) -> None:
    emitted = all_series(driven)
    resolve = resolver(cfn)
    functions = {k for k, r in cfn["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    assert functions == FUNCTIONS
    missing: list[str] = []

    def check(where: str, series: mm.Series) -> None:
        namespace, metric, dims = series
        if namespace == "Clawline":
            if series not in emitted:
                missing.append(f"{where}: {metric} {dict(dims)} is never emitted")
        elif namespace == "AWS/Lambda":
            (name,) = [v for d, v in dims if d == "FunctionName"]
            if name not in functions:
                missing.append(f"{where}: {metric} of {name}, which is not a function of this stack")
        elif namespace == "AWS/SQS":
            if dict(dims) != {"QueueName": "DeadLetterQueue.QueueName"}:
                missing.append(f"{where}: {metric} {dict(dims)} is not the dead-letter queue")
        else:
            missing.append(f"{where}: namespace {namespace} is not watched by this test")

    widgets = dashboard(cfn)
    searched = 0
    for widget in widgets:
        title = widget["properties"]["title"]
        series, searches = mm.widget_metrics(widget)
        for one in series:
            check(f"widget {title!r}", one)
        for search in searches:
            searched += 1
            if not any(search.matches(s) for s in emitted):
                missing.append(f"widget {title!r}: {search} matches no emitted series")
    for logical_id, props in alarms(cfn).items():
        for series, _stat in mm.alarm_inputs(props, resolve).values():
            check(f"alarm {logical_id}", series)
    assert not missing, "\n".join(missing)
    assert searched >= 3  # the per-plugin views


def test_plugin_series_are_bounded_to_the_bots_declared_plugins(driven: Drive) -> None:
    plugins = {v for _ns, _m, dims in all_series(driven) for d, v in dims if d == "plugin"}
    assert plugins == {"sample", "raiser", "sleeper"}


def insights_filter(query: str) -> list[str]:
    """The fields a Logs Insights query's ``filter ispresent(a) and ispresent(b)`` requires (the only form the
    dashboard uses: anything else fails here, so a new query gets a check before it ships)."""
    (clause,) = re.findall(r"\|\s*filter\s+([^|]+)", query)
    terms = [term.strip() for term in clause.split(" and ")]
    fields = [re.fullmatch(r"ispresent\((\w+)\)", term) for term in terms]
    assert all(fields), f"unsupported filter in {query!r}"
    return [m[1] for m in fields if m]


def test_the_logs_insights_widgets_read_the_turn_fields_of_the_emf_documents(
    cfn: dict[str, Any], driven: Drive
) -> None:
    """Top intents and masked fallback utterances come from the turn's own EMF document (one log event per turn),
    as CloudWatch Logs receives it on stdout: the widgets' filters select those documents, and every field they
    group by or show is in them."""
    queries = [w["properties"]["query"] for w in dashboard(cfn) if w["type"] == "log"]
    assert len(queries) == 2
    documents = [doc for docs in driven.documents.values() for doc in docs]
    turns = [doc for doc in documents if "Turns" in doc]
    assert {doc.get("intent") for doc in turns} >= {"greet", "cancel_order"}
    fell_back = [doc for doc in turns if "utterance" in doc]
    assert {doc["channel"] for doc in fell_back} == set(CHANNELS)
    assert all(doc["utterance"] == GIBBERISH and doc["fallback"] is True for doc in fell_back)
    # A turn's document carries no more than the dashboard reads: the user's words only on a fallback, masked.
    assert all("utterance" not in doc for doc in turns if "NluFallbacks" not in doc)
    for query in queries:
        required = insights_filter(query)
        assert "Turns" in required, query  # only turn documents, not plugin or cold-start ones
        selected = [doc for doc in documents if all(name in doc for name in required)]
        assert selected, query
        for field in re.findall(r"(?:by|fields)\s+([\w@, ]+?)(?:\||$)", query):
            for name in (f.strip() for f in field.split(",")):
                assert name.startswith("@") or all(name in doc for doc in selected), (query, name)


def test_a_masked_utterance_never_shows_what_masking_hides(driven: Drive, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback widget lists what users typed: a card number in it reaches the logs masked."""
    monkeypatch.setattr(driven, "phase", "masking")
    driven.http(f"{GIBBERISH} 4111 1111 1111 1111", sub="masking-user")  # user-123 spent its burst above
    driven.flush()
    (doc,) = [d for d in driven.documents["masking"] if "utterance" in d]
    assert doc["utterance"] == f"{GIBBERISH} [CARD]"


#: For each alarm: the phase whose failure it watches, and what Lambda and SQS report that EMF cannot.
SCENARIOS: dict[str, dict[str, Any]] = {
    "ErrorRateAlarm": {"phase": "engine_error"},
    "LatencyAlarm": {"phase": "slow", "threshold": 200},  # the default (3,000 ms) is too slow for a test
    "AuthFailureAlarm": {"phase": "bad_tokens", "threshold": 3},  # three bad tokens stand for the default 50
    "FunctionErrorAlarm": {"phase": "function_error"},
    "DeadLetterAlarm": {"phase": "rejected"},
    # Lambda throttles only at a concurrency limit: one function throttled once while the others were idle
    # (no data point at all), the case FILL(..., 0) is for.
    "ThrottleAlarm": {"phase": "flood", "lambda": {("Throttles", "AuthorizerFunction"): [1.0]}},
}


def alarm_values(
    props: dict[str, Any], resolve: Any, d: Drive, phase: str, extra: dict[tuple[str, str], list[float]]
) -> float | None:
    emitted = mm.emitted_series(d.documents.get(phase, []))
    values: dict[str, float | None] = {}
    for input_id, (series, stat) in mm.alarm_inputs(props, resolve).items():
        namespace, metric, dims = series
        if namespace == "Clawline":
            points = emitted.get(series, [])
        elif namespace == "AWS/Lambda":
            (function,) = [v for k, v in dims if k == "FunctionName"]
            count = d.lambda_errors.get(phase, {}).get(function) if metric == "Errors" else None
            points = [float(count)] if count else extra.get((metric, function), [])
        else:  # the dead-letter queue's depth, as SQS reports it
            attrs = mm_sqs_depth(d.stack)
            points = [float(attrs)] if phase == "rejected" else []
        values[input_id] = mm.statistic(points, stat)
    return mm.evaluate(mm.alarm_expression(props), values)


def mm_sqs_depth(stack: Stack) -> int:
    from tests.helpers.aws import client

    attrs = client("sqs", stack.endpoint).get_queue_attributes(
        QueueUrl=stack.dead_letter_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"])


def test_every_alarm_fires_on_the_failure_it_watches_and_not_on_healthy_turns(
    cfn: dict[str, Any], driven: Drive
) -> None:
    resolve = resolver(cfn)
    found = alarms(cfn)
    assert set(found) == set(SCENARIOS), "every alarm needs a scenario showing the failure that makes it fire"
    report: list[str] = []
    for logical_id, props in found.items():
        scenario = SCENARIOS[logical_id]
        threshold = float(scenario.get("threshold", resolve(props["Threshold"])))
        value = alarm_values(props, resolve, driven, scenario["phase"], scenario.get("lambda", {}))
        if not mm.fires(props, value, threshold):
            report.append(f"{logical_id} stays OK on {scenario['phase']}: {value} vs {threshold}")
        healthy = alarm_values(props, resolve, driven, "healthy", {})
        if mm.fires(props, healthy, threshold):
            report.append(f"{logical_id} fires on healthy turns: {healthy} vs {threshold}")
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
    assert not report, "\n".join(report)


def test_a_sum_over_functions_without_fill_would_miss_an_idle_function() -> None:
    """Why FunctionErrorAlarm and ThrottleAlarm FILL each term: a missing data point makes the whole sum missing."""
    values = {"hf": None, "wf": None, "mf": 2.0, "af": None}
    assert mm.evaluate("hf + wf + mf + af", values) is None
    assert mm.evaluate("FILL(hf, 0) + FILL(wf, 0) + FILL(mf, 0) + FILL(af, 0)", values) == 2.0


def test_throttles_and_errors_are_alarmed_on_every_function(cfn: dict[str, Any]) -> None:
    resolve = resolver(cfn)
    watched: dict[str, set[str]] = {"Errors": set(), "Throttles": set()}
    for props in alarms(cfn).values():
        for series, _stat in mm.alarm_inputs(props, resolve).values():
            if series[0] == "AWS/Lambda" and series[1] in watched:
                watched[series[1]] |= {v for k, v in series[2] if k == "FunctionName"}
    assert watched == {"Errors": FUNCTIONS, "Throttles": FUNCTIONS}
