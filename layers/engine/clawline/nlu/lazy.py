"""The bot's NLU built on the first message that needs a classification, not when the engine loads.

Building the default classifier loads the bot's trained model (numpy-free, ``linear_runtime``: tens of milliseconds),
or trains it when the artifact is missing or stale (numpy: hundreds of milliseconds); either is cold-start time a
turn the rules answer alone never needs. ``lazy_nlu_factory`` decides at load what is cheap to decide (whether the
bot has NLU at all) and defers the rest to the first ``parse``. This module imports nothing heavy.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from clawline.bot.compiled import Bot
    from clawline.bot.models import BotDefinition
    from clawline.nlu.types import NluBackend, NluResult


class LazyNlu:
    """An ``NluBackend`` that builds the real one on the first ``parse`` (once, thread-safe)."""

    def __init__(self, build: Callable[[], NluBackend | None]) -> None:
        self._build = build
        self._backend: NluBackend | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._backend is not None

    def backend(self) -> NluBackend:
        if self._backend is None:
            with self._lock:
                if self._backend is None:
                    built = self._build()
                    if built is None:  # the factory said there is NLU; a None here is a wiring bug
                        raise RuntimeError("the NLU factory built nothing for a bot with intents or entities")
                    self._backend = built
        return self._backend

    def parse(self, text: str) -> NluResult:
        return self.backend().parse(text)

    def __getattr__(self, name: str) -> Any:
        # Attributes of the real backend (``source``, ``model``...) as before; asking for one builds it.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.backend(), name)


def classifies(definition: BotDefinition) -> bool:
    """Whether a bot ever needs the NLU (and numpy): it has intents or entities. The build attaches the NLU layer by
    the same rule (``packaging/bot_uses_nlu.py``), so a bot this says False about runs without numpy."""
    return bool(definition.intents or definition.entities)


def lazy_nlu_factory(
    backend: Literal["linear", "embedding"] = "linear", model_dir: Path | None = None
) -> Callable[[Bot], NluBackend | None]:
    """Like ``clawline.engine.nlu_factory``, deferred: None for a bot without intents or entities (decided now),
    else a ``LazyNlu``. The embedding backend stays eager: its missing-layer error belongs at load, and a bot that
    chose it classifies on nearly every turn."""
    from clawline.engine import nlu_factory

    factory = nlu_factory(backend, model_dir)
    if backend == "embedding":
        return factory

    def build(bot: Bot) -> NluBackend | None:
        if not classifies(bot.definition):
            return None

        def built() -> NluBackend | None:
            single_blas_thread()
            return factory(bot)

        return LazyNlu(built)

    return build


def single_blas_thread() -> None:
    """Before numpy's first import (training a stale model at cold start): one OpenBLAS thread, unless the environment
    chose.

    A function classifies one message at a time, and the products of a parse are far below the sizes OpenBLAS
    splits across threads, so its pool (one thread per core) only costs: starting it is about 40 ms of CPU in numpy's
    import (measured with python3.13 from the NLU layer; CPU time counts every thread). ``OPENBLAS_NUM_THREADS`` is
    read once, when numpy loads OpenBLAS, so this must run first; afterwards it changes nothing.
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
