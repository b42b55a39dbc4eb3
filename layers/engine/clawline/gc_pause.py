"""The cyclic garbage collector held off while a Lambda environment starts: its INIT and its first invocation.

What a cold start allocates (modules, classes, pydantic's validators, botocore's service models, clients and
handlers, the bot) lives as long as the environment, and hardly any of it is cyclic garbage. CPython's collector
does not know that: it runs every 2,000 net allocations and walks what survived again in its older generations,
so a cold start pays for many collections that free almost nothing (about 14% of the MQTT function's CPU for its
import and first turn, 5% in the first invocation alone: BENCHMARKS.md, "The AWS side of the first turn").

So, in a Lambda environment (``AWS_LAMBDA_FUNCTION_NAME`` set):

- ``pause()``, called when the engine package is imported, turns the collector off;
- ``around_first_invoke`` (every handler gets it through ``clawline.observability.traced_handler``) turns it back
  on when the first invocation returns or raises, after ``gc.freeze()``: what exists then moves to the permanent
  generation, which no collection walks again, so warm invocations collect only what they allocate.

The cost: cyclic garbage made before that point is kept (frozen) instead of freed, once per environment: 400-800
objects, 0.1-0.2 MB (shallow sizes) beside the 100,000-120,000 live objects frozen with them, measured on the
HTTP, WebSocket and MQTT functions' first turns; their peak RSS (about 113 MB) moved by less than 1 MB. Elsewhere
(tests, the CLI) nothing changes. With SnapStart the
collector is still off in the snapshot and comes back on after the first invocation of each restored environment.
"""

from __future__ import annotations

import functools
import gc
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    lock = threading.Lock()
    #: True while the collector is off because of ``pause()``.
    paused = False


def in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def pause() -> None:
    """Turn the collector off for the cold start (in a Lambda environment, and when it is on)."""
    with _State.lock:
        if in_lambda() and gc.isenabled() and not _State.paused:
            gc.disable()
            _State.paused = True


def resume() -> None:
    """Freeze what the cold start made and turn the collector back on (only if ``pause()`` turned it off)."""
    with _State.lock:
        if _State.paused:
            gc.freeze()
            gc.enable()
            _State.paused = False


def paused() -> bool:
    return _State.paused


def around_first_invoke(handler: F) -> F:
    """``handler``, which resumes the collector when its first call returns or raises (later calls run as is)."""

    @functools.wraps(handler)
    def invoke(*args: Any, **kwargs: Any) -> Any:
        if not _State.paused:
            return handler(*args, **kwargs)
        try:
            return handler(*args, **kwargs)
        finally:
            resume()

    return invoke  # type: ignore[return-value]
