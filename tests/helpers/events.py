"""The sample events in ``events/``: the same files ``sam local invoke -e`` and the tests use."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parents[2] / "events"


@cache
def _read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    return data


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``events/<name>`` (tests may mutate it)."""
    return copy.deepcopy(_read(name))


def all_events() -> list[str]:
    return sorted(str(p.relative_to(EVENTS)) for p in EVENTS.rglob("*.json"))
