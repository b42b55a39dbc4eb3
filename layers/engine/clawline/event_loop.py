"""Run a turn's coroutine without an event loop until something in it needs one.

The engine's turn is a coroutine because plugin hooks are: they run concurrently, each under its time budget
(``asyncio.gather`` and ``wait_for`` in ``clawline.plugins.runner``). Most turns call no plugin at all, and then
nothing in them awaits anything: importing asyncio (and with it ssl, socket, subprocess, selectors: about 40 ms of
CPU on a cold start, more than the whole turn) would buy nothing. So a turn is driven by hand, ``send(None)``, and
the code that is about to use asyncio first awaits ``event_loop()``:

    run(turn):  send(None) -> the turn returns              -> its reply (asyncio never imported)
                           -> it awaits event_loop()         -> the loop runs the rest of the same coroutine
                                                                (suspended there, nothing is done twice)

Inside a running loop (the local runtime, tests, any turn after the switch) ``event_loop()`` returns at once.
A coroutine driven by hand that awaits anything else has used asyncio without asking: that is a bug, and it is
reported as one rather than run half outside the loop.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from asyncio import AbstractEventLoop

T = TypeVar("T")

#: What a hand-driven coroutine yields to ask for the loop (never seen by asyncio: inside a loop nothing is yielded).
_NEEDS_LOOP = object()


def in_running_loop() -> bool:
    """Whether this thread is running an event loop (without importing asyncio when nothing has)."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return False
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


@types.coroutine
def event_loop() -> Generator[Any, None, None]:
    """Await this before the first asyncio call of a code path that a turn may reach (see the module docstring)."""
    if not in_running_loop():
        yield _NEEDS_LOOP


@types.coroutine
def _resumed(coroutine: Coroutine[Any, Any, T]) -> Generator[Any, Any, T]:
    # ``yield from`` resumes the suspended coroutine with send(None), which ``event_loop()`` returns from, and then
    # passes its futures to the loop's task and the task's wake-ups (and cancellation) back to it.
    result: T = yield from coroutine
    return result


async def _continue(coroutine: Coroutine[Any, Any, T]) -> T:
    return await _resumed(coroutine)


def run(coroutine: Coroutine[Any, Any, T], loop: Callable[[], AbstractEventLoop]) -> T:
    """The coroutine's result: driven by hand, moved onto ``loop()`` only if it awaits ``event_loop()``."""
    try:
        request = coroutine.send(None)
    except StopIteration as finished:
        result: T = finished.value
        return result
    if request is not _NEEDS_LOOP:
        coroutine.close()
        raise RuntimeError(f"a turn driven without an event loop awaited {request!r}: await event_loop() first")
    return loop().run_until_complete(_continue(coroutine))
