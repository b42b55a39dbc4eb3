"""clawline.gc_pause: the collector is off from the engine's import to the end of the first invocation, in Lambda only.

The functional check (tests/functional/test_cold_start_imports.py) runs a real handler in a fresh interpreter;
these run the same functions in this process, restoring the collector's state after each case.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from clawline import gc_pause


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    gc_pause._State.paused = False
    gc.unfreeze()
    if was_enabled:
        gc.enable()
    else:  # pragma: no cover - the suite runs with the collector on
        gc.disable()


def test_outside_lambda_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    gc_pause.pause()
    assert gc.isenabled()
    assert not gc_pause.paused()


def test_in_lambda_the_first_invocation_ends_the_pause_and_freezes_what_the_cold_start_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "clawline-test")
    gc_pause.pause()
    assert not gc.isenabled()
    seen: list[bool] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(gc.isenabled())
        return {"ok": event["n"]}

    wrapped = gc_pause.around_first_invoke(handler)
    assert wrapped({"n": 1}, None) == {"ok": 1}
    assert gc.isenabled()
    assert gc.get_freeze_count() > 0  # the cold start's objects: never walked again
    assert wrapped({"n": 2}, None) == {"ok": 2}
    assert seen == [False, True]  # the first invocation ran paused, the next one with the collector on
    assert wrapped.__name__ == "handler"


def test_a_first_invocation_that_raises_still_ends_the_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "clawline-test")
    gc_pause.pause()

    def handler(event: Any, context: Any) -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        gc_pause.around_first_invoke(handler)({}, None)
    assert gc.isenabled()
    assert not gc_pause.paused()


def test_a_collector_someone_else_turned_off_stays_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "clawline-test")
    gc.disable()
    gc_pause.pause()  # not ours to turn back on
    gc_pause.around_first_invoke(lambda event, context: None)({}, None)
    assert not gc.isenabled()
