"""The built HTTP function (FastAPI + Mangum from the function folder, engine from the layer) in the emulator."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from clawline import __version__
from tests.package.conftest import Functions, Sample, explain

pytestmark = pytest.mark.package


def call(functions: Functions, event: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    invocation = functions["HttpFunction"].invoke(event)
    assert not invocation.function_error, explain(invocation)
    response = invocation.payload
    body = response.get("body")
    if response.get("isBase64Encoded") and body:
        body = base64.b64decode(body).decode()
    return response["statusCode"], (json.loads(body) if body else None)


def test_health_answers_200_with_the_engine_version(functions: Functions, sample: Sample) -> None:
    status, body = call(functions, sample("http/health.json"))
    assert (status, body) == (200, {"status": "ok", "version": __version__})


def test_posted_message_gets_a_reply_in_the_body(functions: Functions, sample: Sample) -> None:
    status, body = call(functions, sample("http/post_message.json"))
    assert status == 200, body
    assert body is not None
    assert (body["conversation_id"], body["message_id"]) == ("conv-1", "msg-0001")
    assert body["replies"] and body["replies"][0]["text"]


def test_base64_body_from_api_gateway_is_decoded(functions: Functions, sample: Sample) -> None:
    status, body = call(functions, sample("http/post_message_base64.json"))
    assert status == 200, body
    assert body is not None and body["message_id"] == "msg-0002"


def test_history_lists_the_posted_turn(functions: Functions, sample: Sample) -> None:
    assert call(functions, sample("http/post_message.json"))[0] == 200
    status, body = call(functions, sample("http/get_messages.json"))
    assert status == 200, body
    assert body is not None and "msg-0001" in [m["message_id"] for m in body["messages"]]


def test_delete_removes_the_conversation(functions: Functions, sample: Sample) -> None:
    assert call(functions, sample("http/post_message.json"))[0] == 200
    status, _ = call(functions, sample("http/delete_conversation.json"))
    assert status == 204
    status, body = call(functions, sample("http/get_messages.json"))
    assert status == 404, body


@pytest.mark.parametrize("name", ["http/malformed_json.json", "http/unknown_field.json"])
def test_bad_input_is_a_422_json_error(functions: Functions, sample: Sample, name: str) -> None:
    status, body = call(functions, sample(name))
    assert status == 422
    assert body is not None and body["error"] == "invalid_input"


def test_oversized_text_is_a_413_json_error(functions: Functions, sample: Sample) -> None:
    event = sample("http/post_message.json")
    event["body"] = json.dumps({"text": "x" * (16 * 1024 + 1)})
    status, body = call(functions, event)
    assert status == 413
    assert body is not None and body["error"] == "payload_too_large"


def test_openapi_document_lists_the_routes(functions: Functions, sample: Sample) -> None:
    event = sample("http/health.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/dev/openapi.json"
    event["routeKey"] = event["requestContext"]["routeKey"] = "GET /openapi.json"
    status, body = call(functions, event)
    assert status == 200
    assert body is not None
    assert {"/v1/messages", "/v1/conversations/{conversation_id}/messages", "/health"} <= body["paths"].keys()
