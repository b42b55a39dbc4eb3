"""Lazy, cached AWS clients: created at first use, once per container, never at import time.

Every client comes from one botocore session (built once): a session per client would load the endpoint
rules, partitions and credential chain again for each service on the first invoke. boto3 is not needed to make
a client, and botocore is imported only when the first client is made.

Endpoints come from boto3's standard ``AWS_ENDPOINT_URL_<SERVICE>`` variables, so the local runtime and the
tests point clients at loopback servers without a single local branch here.

Time budget: botocore's own defaults (60 s reads, several attempts) outlast a Lambda invocation, and a
function killed by its timeout answers a bare 500. So every attempt fits in the invocation: the timeouts are
sized from the time left when the client is created (its first invocation), and a request (first attempt or a
retry) is not started when the current invocation has less than ``RESERVE_MS`` left; the caller gets a
``RetryableError`` (a 503 with ``Retry-After``, an error frame, or an MQTT retry) while there is still time to
answer.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config

#: Time kept for answering after the last AWS request: never start a request with less than this left.
RESERVE_MS = 1000
#: Bounds on one attempt's timeouts, whatever the invocation's budget.
MAX_CONNECT_TIMEOUT = 2.0
MAX_READ_TIMEOUT = 5.0
MIN_TIMEOUT = 0.2

#: The current invocation's (deadline in epoch ms, reserve in ms); None outside an invocation. A context
#: variable: the local runtime runs several invocations at once, and it follows a turn into worker threads.
_deadline: ContextVar[tuple[float, float] | None] = ContextVar("clawline_deadline", default=None)
_longest_ms: list[float] = []


def set_deadline(context: Any) -> None:
    """Bound AWS requests by ``context``'s remaining time (a Lambda context; None clears the bound)."""
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(remaining):
        _deadline.set(None)
        _longest_ms[:] = []
        return
    left = float(remaining())
    # The function's timeout, as far as this container can tell: the most time any invocation started with.
    _longest_ms[:] = [max([left, *_longest_ms])]
    # A short function keeps a tenth of its time, at most RESERVE_MS.
    _deadline.set((time.time() * 1000 + left, min(RESERVE_MS, _longest_ms[0] / 10)))


def remaining_ms() -> float | None:
    deadline = _deadline.get()
    return deadline[0] - time.time() * 1000 if deadline else None


def _refuse_without_time(**_: Any) -> None:
    deadline = _deadline.get()
    left = remaining_ms()
    if deadline is not None and left is not None and left < deadline[1]:
        from clawline.errors import RetryableError

        raise RetryableError("not enough time left in this invocation, try again", details={"left_ms": int(left)})


def client_config(
    *,
    max_attempts: int = 4,
    connect_timeout: float = 2.0,
    read_timeout: float = 5.0,
    signature_version: str | None = None,
) -> Config:
    # Standard retry mode backs off on throttling; explicit timeouts keep a slow dependency from eating
    # the 29 s API Gateway integration budget.
    # ``total_max_attempts`` counts the first request too: botocore's ``max_attempts`` key counts retries only,
    # so max_attempts=4 would really send five requests.
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        signature_version=signature_version,
    )


def attempt_timeouts(max_attempts: int) -> tuple[float, float]:
    """(connect, read) timeouts such that every attempt fits in the time left (the defaults outside Lambda)."""
    left = remaining_ms()
    if left is None:
        return MAX_CONNECT_TIMEOUT, MAX_READ_TIMEOUT
    deadline = _deadline.get()
    reserve = deadline[1] if deadline else 0.0
    per_attempt = max(2 * MIN_TIMEOUT, (left - reserve) / 1000 / max_attempts)
    connect = max(MIN_TIMEOUT, min(MAX_CONNECT_TIMEOUT, per_attempt / 3))
    return connect, max(MIN_TIMEOUT, min(MAX_READ_TIMEOUT, per_attempt - connect))


@cache
def session() -> Any:
    """The container's one botocore session (region and credentials from Lambda's environment)."""
    import botocore.session

    return botocore.session.get_session()


@cache
def client(
    service: str, *, max_attempts: int = 4, endpoint_url: str | None = None, signature_version: str | None = None
) -> Any:
    """``signature_version``: botocore's default for the service when None (S3 presigns need ``s3v4``)."""
    connect, read = attempt_timeouts(max_attempts)
    made = session().create_client(
        service,
        config=client_config(
            max_attempts=max_attempts,
            connect_timeout=connect,
            read_timeout=read,
            signature_version=signature_version,
        ),
        endpoint_url=endpoint_url,
    )
    # before-send runs for every attempt, retries included: no attempt starts past the invocation's budget.
    made.meta.events.register("before-send", _refuse_without_time)
    return made
