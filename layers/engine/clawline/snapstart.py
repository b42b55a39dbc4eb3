"""Lambda SnapStart: what the snapshot holds, and what it must not.

With the template's ``SnapStart`` parameter on, Lambda runs a function's INIT once per published version, snapshots
the environment's memory and disk, and resumes every new environment from it instead of running INIT again. A
handler calls ``register()`` at import; when this INIT is a snapshot's (``AWS_LAMBDA_INITIALIZATION_TYPE`` is
``snap-start``) the before-snapshot hook warms what a first turn would otherwise pay for:

- the bot, loaded and its rules compiled; its NLU built (the model and the caches of a first parse; numpy only if
  the model must be trained) when the bot classifies;
- botocore's service models and endpoint rules of the services the function calls, and its client machinery, by
  building each client once with placeholder keys and dropping it.

What it must not hold, since one snapshot resumes many environments, for days: credentials (none are resolved: the
placeholder clients are thrown away, and the function's real clients are built on its first invocation, from
Lambda's environment then), connections (no request is made), and per-invocation state (the time budget, the
Lambda context). After a restore, ``random`` is reseeded: every environment would otherwise draw the same numbers
(retry jitter, reply variants). Without SnapStart (``on-demand`` INIT) ``register()`` does nothing and imports
nothing.

    publish version -> INIT: import handler -> register() -> before-snapshot: warm() -> snapshot
    scale-out       -> restore snapshot -> after-restore: reseed -> first invoke: clients, then the turn
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterable
from typing import Any

from clawline.observability import logger

#: What Lambda sets ``AWS_LAMBDA_INITIALIZATION_TYPE`` to in the INIT that a snapshot is taken after.
SNAPSHOT_INIT = "snap-start"
#: Keys for the throwaway clients: explicit keys keep botocore from resolving the function's credentials.
_PLACEHOLDER_KEYS = {"aws_access_key_id": "snapshot-warmup", "aws_secret_access_key": "snapshot-warmup"}


def warm(services: Iterable[str] = (), *, engine: bool = True) -> None:
    """Load what a first turn needs without credentials or connections (the before-snapshot hook)."""
    from clawline import aws, composition

    if engine:
        nlu = composition.nlu()
        if nlu is not None:
            nlu.parse("hello")  # builds the backend (the model) and its first-parse caches
        composition.bot()
    session = aws.session()
    region = session.get_config_variable("region") or "us-east-1"
    for service in services:
        session.create_client(service, region_name=region, **_PLACEHOLDER_KEYS)


def reseed() -> None:
    """The after-restore hook: each resumed environment draws its own random numbers."""
    random.seed()


def register(services: Iterable[str] = (), *, engine: bool = True) -> bool:
    """Register the SnapStart hooks when this INIT precedes a snapshot; True when they were registered."""
    if os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE") != SNAPSHOT_INIT:
        return False
    try:
        from snapshot_restore_py import register_after_restore, register_before_snapshot
    except ImportError:  # the managed python3.12+ runtimes ship it; anything else runs without the warm-up
        logger.warning("SnapStart INIT without snapshot_restore_py: the snapshot is taken cold")
        return False
    before: Callable[..., Any] = register_before_snapshot
    after: Callable[..., Any] = register_after_restore
    before(warm, tuple(services), engine=engine)
    after(reseed)
    return True
