"""FastAPI, imported with the models of its OpenAPI document left to be built when the document is first asked for.

``fastapi.openapi.models`` declares 36 pydantic models (``OpenAPI``, ``PathItem``, ``Operation``...) that
FastAPI validates only when it builds the OpenAPI document (``GET /openapi.json``); a handful more (the SSE event,
the HTTP security credentials, the request-error models) serve features a first turn does not reach. pydantic builds
a model's validator and serializer when its class is declared unless the model's config says ``defer_build``, and
then builds them on first use. FastAPI's models say nothing, so each cold start of the HTTP function built all of
them (30-40 ms of CPU; BENCHMARKS.md) for a document it is rarely asked for.

Every model's config starts from ``BaseModel.model_config``. ``built_on_first_use`` makes ``defer_build`` that
default while FastAPI's modules are imported, and only then: the default is restored before this module's import
returns, so every model declared elsewhere (ours, the engine's, any later one) is built exactly as before. FastAPI's
models keep ``defer_build`` in their own config; the document they give is the same
(tests/functional/test_cold_start_imports.py checks both). pydantic is pinned (engine layer): a release that stops
reading the default this way only brings the cost back.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import BaseModel


@contextmanager
def built_on_first_use() -> Iterator[None]:
    """Models declared inside the block defer their build (pydantic's ``defer_build``) unless they say otherwise."""
    defaults = BaseModel.model_config
    if "defer_build" in defaults:  # someone chose the default already: theirs stands
        yield
        return
    defaults["defer_build"] = True
    try:
        yield
    finally:
        del defaults["defer_build"]


#: Every FastAPI module the HTTP function imports (the package imports most: routing, params, the OpenAPI models,
#: security, SSE).
FASTAPI_MODULES = ("fastapi", "fastapi.exceptions", "fastapi.responses", "fastapi.routing", "fastapi.utils")

with built_on_first_use():
    for name in FASTAPI_MODULES:
        importlib.import_module(name)
