"""The parts of the OpenAPI document that cost a cold start, added when the document is first asked for.

FastAPI builds a pydantic ``TypeAdapter`` at import for every response model a route declares, only to describe it
in the OpenAPI document. Declared app-wide (``FastAPI(responses=...)``), the shared error body under eleven status
codes on every route was 187 of them: about 60 ms of CPU on every cold start of the HTTP function, for a document
that only ``GET /openapi.json`` (and the contract tests) read. The message route's request body schema was
generated at import for the same reason. Here the app is built without them, and ``install`` makes ``app.openapi()``
add them to FastAPI's own document, once, the way FastAPI renders a ``responses`` entry with a ``model``:

- each operation gets ``{code: {"description": <the existing one, else the status text>, "content":
  {"application/json": {"schema": {"$ref": "#/components/schemas/<Model>"}}}}}``; FastAPI's default 422
  ("Validation Error", ``HTTPValidationError``) is replaced as an app-wide 422 would have replaced it, and its two
  component schemas go when nothing refers to them any more;
- the model's schema joins ``components.schemas``;
- ``extras[(path, method)]()`` is merged into that operation, as ``openapi_extra`` would be;
- None values are left out of what is added, as FastAPI leaves them out of its document.

The served document is the one the eager declaration produced (tests/functional/test_http_function.py compares
them), and error responses are unchanged: FastAPI never used those models to validate what the handlers return.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.utils import deep_dict_update
from pydantic import BaseModel

REF_PREFIX = "#/components/schemas/"
_DEFAULT_422 = {
    "description": "Validation Error",
    "content": {"application/json": {"schema": {"$ref": REF_PREFIX + "HTTPValidationError"}}},
}
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def install(
    app: FastAPI,
    *,
    error_model: type[BaseModel],
    error_codes: Iterable[int],
    extras: Mapping[tuple[str, str], Callable[[], dict[str, Any]]] = {},
) -> None:
    """Make ``app.openapi()`` return FastAPI's document with the error responses and ``extras`` added (once)."""
    codes = tuple(error_codes)
    built: dict[str, Any] = {}

    def openapi() -> dict[str, Any]:
        if not built:
            document = FastAPI.openapi(app)
            add_error_responses(document, error_model, codes)
            for (path, method), extra in extras.items():
                deep_dict_update(document["paths"][path][method], without_none(extra()))
            built.update(document)
        return built

    app.openapi = openapi  # type: ignore[method-assign]


def without_none(node: Any) -> Any:
    """``node`` without None values: FastAPI writes its document with ``exclude_none`` (so no ``"default": null``)."""
    if isinstance(node, dict):
        return {key: without_none(value) for key, value in node.items() if value is not None}
    if isinstance(node, list):
        return [without_none(item) for item in node]
    return node


def add_error_responses(document: dict[str, Any], model: type[BaseModel], codes: Iterable[int]) -> None:
    name = model.__name__
    entry = {"application/json": {"schema": {"$ref": REF_PREFIX + name}}}
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            if responses.get("422") == _DEFAULT_422:
                del responses["422"]
            for code in codes:
                response = responses.setdefault(str(code), {})
                deep_dict_update(response, {"content": entry})
                response["description"] = response.get("description") or http.client.responses.get(code, "")
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[name] = without_none(model.model_json_schema(mode="serialization", ref_template=REF_PREFIX + "{model}"))
    text = repr(document["paths"])
    for unused in ("HTTPValidationError", "ValidationError"):
        if REF_PREFIX + unused not in text and REF_PREFIX + unused not in repr(schemas):
            schemas.pop(unused, None)
    document["components"]["schemas"] = dict(sorted(schemas.items()))
