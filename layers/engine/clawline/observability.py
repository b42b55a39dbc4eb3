"""One place for logs, metrics and traces: Powertools Logger (JSON), Metrics (EMF) and Tracer (X-Ray).

Constructing these objects does no I/O, so importing this module is safe at cold start. Metric names live
in one Enum so dashboards and alarms in template.yaml cannot drift from the code.
"""

from __future__ import annotations

from enum import StrEnum

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from clawline.security.masking import MaskingFormatter, install_root_filter

NAMESPACE = "Clawline"
SERVICE = "clawline"


class MetricName(StrEnum):
    TURNS = "Turns"
    ERRORS = "Errors"
    TURN_LATENCY = "TurnLatency"
    PLUGIN_CALLS = "PluginCalls"
    PLUGIN_ERRORS = "PluginError"
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
    AUTH_FAILURES = "AuthFailures"


# Every line is masked (PII, tokens) by the formatter; other loggers' lines through the root handlers too.
logger = Logger(service=SERVICE, utc=True, logger_formatter=MaskingFormatter(utc=True))
install_root_filter()
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
# Each function patches the libraries it calls (``tracer.patch()`` in its module): Powertools' default patches
# everything it supports at import, which imports botocore (~0.2 s of cold start) into the authorizer too, and the
# authorizer makes no AWS call on its hot path.
tracer = Tracer(service=SERVICE, auto_patch=False)


def count(name: MetricName, value: float = 1) -> None:
    metrics.add_metric(name=name.value, unit=MetricUnit.Count, value=value)


def latency_ms(name: MetricName, value: float) -> None:
    metrics.add_metric(name=name.value, unit=MetricUnit.Milliseconds, value=value)
