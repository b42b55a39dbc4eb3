"""One place for logs, metrics and traces: Powertools Logger (JSON), Metrics (EMF) and Tracer (X-Ray).

Constructing these objects does no I/O, so importing this module is safe at cold start. Metric names live
in one Enum so dashboards and alarms in template.yaml cannot drift from the code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from clawline.security.masking import MaskingFormatter, install_root_filter

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

Handler = TypeVar("Handler", bound=Callable[..., Any])

NAMESPACE = "Clawline"
SERVICE = "clawline"


class MetricName(StrEnum):
    TURNS = "Turns"
    ERRORS = "Errors"
    TURN_LATENCY = "TurnLatency"
    PLUGIN_CALLS = "PluginCalls"
    PLUGIN_ERRORS = "PluginError"
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
    errors as metadata); the handler itself when it is off."""
    active = tracer()
    if active is None:
        return handler
    return cast("Handler", active.capture_lambda_handler(handler))


def count(name: MetricName, value: float = 1) -> None:
    metrics.add_metric(name=name.value, unit=MetricUnit.Count, value=value)


def latency_ms(name: MetricName, value: float) -> None:
    metrics.add_metric(name=name.value, unit=MetricUnit.Milliseconds, value=value)
