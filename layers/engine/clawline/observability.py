"""One place for logs, metrics and traces: Powertools Logger (JSON), Metrics (EMF) and Tracer (X-Ray).

Constructing these objects does no I/O, so importing this module is safe at cold start. Metric names live
in one Enum so dashboards and alarms in template.yaml cannot drift from the code (tests/iac/test_metric_wiring.py
checks every widget and alarm against the EMF lines the handlers print).

Dimension sets, chosen because CloudWatch never aggregates across them (a widget must name the exact set):

- every metric of an invocation: ``{service, channel}`` and the aggregate ``{service}`` (one EMF document, two
  dimension sets: the aggregate costs ~12 bytes per document, no extra line);
- the authorizer: ``{service}`` only (it serves two channels and knows neither at the point of denial);
- per plugin: ``PluginCalls``, ``PluginError``, ``PluginLatency`` under ``{service, plugin}``, one document per
  plugin a turn used, with ``channel`` as a plain property (queryable in Logs Insights, not a billed series).
  ``plugin`` takes only the names of the bot's declared plugins, so the series count is bounded by the bot.

Custom metrics are billed per series: (11 metrics x 4 dimension sets) + 3 per plugin; docs/observability.md has
the monthly figure.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from clawline.security.masking import MaskingFormatter, install_root_filter, mask_text

if TYPE_CHECKING:
    from clawline.messages import InboundMessage, Reply

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

Handler = TypeVar("Handler", bound=Callable[..., Any])

NAMESPACE = "Clawline"
SERVICE = "clawline"
#: Masked fallback utterances are recorded up to this many characters (a Logs Insights widget lists them).
UTTERANCE_LOG_CHARS = 200


class MetricName(StrEnum):
    # One name per line, alphabetical within each group, so parallel additions merge cleanly.
    TURNS = "Turns"
    ERRORS = "Errors"
    TURN_LATENCY = "TurnLatency"
    PLUGIN_CALLS = "PluginCalls"
    PLUGIN_ERRORS = "PluginError"
    PLUGIN_LATENCY = "PluginLatency"
    PLUGIN_REJECTIONS = "PluginRejections"
    PLUGIN_NETWORK_REFUSED = "PluginNetworkRefused"
    CSAT_SCORE = "CsatScore"
    LLM_TOKENS = "LlmTokens"
    LLM_CAPPED = "LlmCapped"
    NLU_FALLBACKS = "NluFallbacks"
    REJECTED_INPUT = "RejectedInput"
    DUPLICATE_MESSAGES = "DuplicateMessages"
    TAMPERED_REPLAY = "TamperedReplay"
    STALE_CONNECTIONS = "StaleConnections"
    DEAD_LETTERS = "DeadLetters"
    RATE_LIMITED = "RateLimited"
    REMINDERS_DELIVERED = "RemindersDelivered"
    AUTH_FAILURES = "AuthFailures"


# Every line is masked (PII, tokens) by the formatter; other loggers' lines through the root handlers too.
logger = Logger(service=SERVICE, utc=True, logger_formatter=MaskingFormatter(utc=True))
install_root_filter()


def quiet_library_info_logs() -> None:
    """Keep libraries' INFO lines out of the billed log stream; our own logger keeps its level.

    Under Lambda's JSON log format the runtime sets the root logger to the application log level (INFO by the
    template), so every library's INFO line would be written: Mangum's ``POST /v1/messages 200`` on every HTTP
    turn, httpx's ``HTTP Request: ...`` on every plugin call, one more billed event each (API Gateway's access
    log already has the request). Only INFO is raised to WARNING: an operator who chose DEBUG gets everything.
    """
    root = logging.getLogger()
    if root.level == logging.INFO:
        root.setLevel(logging.WARNING)


# At import, as install_root_filter above: Lambda's runtime has configured the root logger before the handler loads.
quiet_library_info_logs()
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def tracing_enabled() -> bool:
    """Powertools' own rule: on in Lambda, off when ``POWERTOOLS_TRACE_DISABLED`` is truthy or under SAM local."""
    from aws_lambda_powertools.shared import constants
    from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

    if resolve_truthy_env_var_choice(env=os.getenv(constants.TRACER_DISABLED_ENV, "false")):
        return False
    outside = os.getenv(constants.SAM_LOCAL_ENV) or os.getenv(constants.CHALICE_LOCAL_ENV)
    return bool(os.getenv(constants.LAMBDA_TASK_ROOT_ENV)) and not outside


@cache
def tracer() -> Tracer | None:
    """The X-Ray tracer, or None when tracing is off. Built on demand: constructing Powertools' Tracer imports the
    X-Ray SDK (100-180 ms of cold start) even when tracing is disabled, so a function without tracing never does."""
    if not tracing_enabled():
        return None
    from aws_lambda_powertools import Tracer

    # auto_patch=False: each function patches only the libraries it calls (``trace_libraries``); Powertools'
    # default patches everything, which imports botocore (~0.2 s) into the authorizer too.
    return Tracer(service=SERVICE, auto_patch=False)


def trace_libraries(modules: Sequence[str] | None = None) -> None:
    """Patch ``modules`` (all supported libraries when None) for X-Ray, only when tracing is on."""
    active = tracer()
    if active is not None:
        active.patch(modules)


def traced_handler(handler: Handler) -> Handler:
    """``Tracer.capture_lambda_handler`` when tracing is on (ColdStart and service annotations, the response and
    errors as metadata); the handler itself when it is off. Either way the garbage collector, held off since the
    engine's import in Lambda, comes back on when the first invocation ends (``clawline.gc_pause``)."""
    from clawline.gc_pause import around_first_invoke

    active = tracer()
    if active is None:
        return around_first_invoke(handler)
    return around_first_invoke(cast("Handler", active.capture_lambda_handler(handler)))


#: Called with (message, reply, latency in ms) after every executed turn. Empty in Lambda; the local runtime's
#: console registers one to show each turn's trace.
turn_observers: list[Callable[[InboundMessage, Reply, float], None]] = []


def count(name: MetricName, value: float = 1) -> None:
    metrics.add_metric(name=name.value, unit=MetricUnit.Count, value=value)


def latency_ms(name: MetricName, value: float) -> None:
    metrics.add_metric(name=name.value, unit=MetricUnit.Milliseconds, value=value)


def channel_dimensions(channel: str) -> None:
    """The invocation's dimension sets: ``{service, channel}`` and the aggregate ``{service}``.

    Called first thing in a message handler (inside ``log_metrics``, which clears both after each flush).
    """
    metrics.add_dimension(name="channel", value=channel)
    # An invocation that emitted nothing is not flushed, so its sets are still there: add the aggregate once.
    if {"service": SERVICE} not in metrics.provider.dimension_sets:
        metrics.add_dimensions(service=SERVICE)


def record_turn(message: InboundMessage, reply: Reply, elapsed_ms: float) -> None:
    """Everything one executed turn reports: its count and latency, one document per plugin it called, and local
    observers.

    What Logs Insights reads about the turn (top intents, masked fallback utterances) rides in the invocation's EMF
    document as plain properties (``intent``; on a fallback ``fallback`` and ``utterance``), not in a log line of
    its own: one log event per turn instead of two (about 0.25 $ per million turns of ingestion, and CloudWatch's
    26 bytes per event). Properties are not dimensions, so they add no metric series.
    """
    count(MetricName.TURNS)
    # A tenth of a millisecond is all a latency needs; the float's full repr is 12 more bytes on every turn.
    latency_ms(MetricName.TURN_LATENCY, round(elapsed_ms, 1))
    _plugin_documents(message.channel.value, reply)
    if reply.intent is not None:
        metrics.add_metadata(key="intent", value=reply.intent)
    if "fallback" in reply.trace:
        metrics.add_metadata(key="fallback", value=True)
        metrics.add_metadata(key="utterance", value=mask_text(message.text[:UTTERANCE_LOG_CHARS]))
    for observer in turn_observers:
        observer(message, reply, elapsed_ms)


def _plugin_documents(channel: str, reply: Reply) -> None:
    if not reply.plugin_calls:
        return
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    by_plugin: dict[str, list[Any]] = {}
    for call in reply.plugin_calls:
        by_plugin.setdefault(call.plugin, []).append(call)
    for plugin, calls in by_plugin.items():
        # Its own metric/dimension sets: the shared ``metrics`` object would mix them into the invocation's document.
        doc = AmazonCloudWatchEMFProvider(
            namespace=NAMESPACE, service=SERVICE, metric_set={}, dimension_set={}, metadata_set={}
        )
        doc.add_dimension(name="plugin", value=plugin)
        doc.add_metric(name=MetricName.PLUGIN_CALLS.value, unit=MetricUnit.Count, value=len(calls))
        failed = sum(1 for c in calls if c.failure is not None)
        if failed:
            doc.add_metric(name=MetricName.PLUGIN_ERRORS.value, unit=MetricUnit.Count, value=failed)
        for call in calls:
            doc.add_metric(name=MetricName.PLUGIN_LATENCY.value, unit=MetricUnit.Milliseconds, value=call.ms)
        doc.add_metadata(key="channel", value=channel)
        doc.flush_metrics()
