"""The HTTP function invoked exactly as API Gateway HTTP API invokes it (payload v2 events through Mangum)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

import http_app
from tests.functional.conftest import Stack
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context


def invoke(event: dict[str, Any]) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
    response = http_app.handler(event, lambda_context("clawline-http"))
    body = response.get("body")
    if response.get("isBase64Encoded") and body:
        body = base64.b64decode(body).decode()
    return response["statusCode"], (json.loads(body) if body else None), response.get("headers", {})


def at_path(event: dict[str, Any], path: str, query: str = "") -> dict[str, Any]:
    """Point a sample event at another path, as API Gateway fills both rawPath and requestContext.http.path."""
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/dev{path}"
    event["rawQueryString"] = query
    return event


def post(text: str | None = None, *, raw: str | None = None, **fields: Any) -> dict[str, Any]:
    event = load_event("http/post_message.json")
    event["body"] = raw if raw is not None else json.dumps({"text": text, **fields})
    return event


def test_post_message_sample_event_gets_a_reply(stack: Stack) -> None:
    status, body, _ = invoke(load_event("http/post_message.json"))
    assert status == 200
    assert body is not None
    assert body["conversation_id"] == "conv-1"
    assert body["message_id"] == "msg-0001"
    assert body["replies"] and body["replies"][0]["text"]


def test_base64_encoded_json_body_is_decoded_like_api_gateway_does(stack: Stack) -> None:
    status, body, _ = invoke(load_event("http/post_message_base64.json"))
    assert status == 200
    assert body is not None and body["message_id"] == "msg-0002"


def test_conversation_history_lists_turns_newest_first_with_pages(stack: Stack) -> None:
    for i in range(3):
        assert invoke(post(f"hello number {i}", conversation_id="c-hist", message_id=f"m-{i}"))[0] == 200
    event = load_event("http/get_messages.json")
    at_path(event, "/v1/conversations/c-hist/messages", "limit=2")
    status, body, _ = invoke(event)
    assert status == 200 and body is not None
    assert [m["message_id"] for m in body["messages"]] == ["m-2", "m-1"]
    assert body["next_cursor"]
    at_path(event, "/v1/conversations/c-hist/messages", f"limit=2&cursor={body['next_cursor']}")
    status, page2, _ = invoke(event)
    assert status == 200 and page2 is not None
    assert [m["message_id"] for m in page2["messages"]] == ["m-0"]
    assert page2["next_cursor"] is None


def test_delete_conversation_removes_every_item_and_then_404s(stack: Stack) -> None:
    for i in range(2):
        invoke(post(f"hi {i}", conversation_id="c-del", message_id=f"d-{i}"))
    event = load_event("http/delete_conversation.json")
    at_path(event, "/v1/conversations/c-del")
    assert invoke(event)[0] == 204
    assert invoke(event)[0] == 404
    items = stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"]
    assert not [i for i in items if "c-del" in i["pk"]["S"]]


def test_another_users_conversation_is_not_found(stack: Stack) -> None:
    invoke(post("my secret plans", conversation_id="private", message_id="p-1"))
    event = load_event("http/get_messages.json")
    at_path(event, "/v1/conversations/private/messages")
    event["requestContext"]["authorizer"]["lambda"]["sub"] = "someone-else"
    status, body, _ = invoke(event)
    assert status == 404
    assert body == {"error": "not_found", "message": "no such conversation"}


def test_health_answers_with_the_version_without_credentials(stack: Stack) -> None:
    status, body, _ = invoke(load_event("http/health.json"))
    assert status == 200
    assert body == {"status": "ok", "version": "0.1.0"}


@pytest.mark.parametrize(
    ("event", "status", "code"),
    [
        pytest.param(post(raw='{"text": "unterminated'), 422, "invalid_input", id="malformed-json"),
        pytest.param(post(raw="[1, 2]"), 422, "invalid_input", id="not-an-object"),
        pytest.param(post("hi", role="admin"), 422, "invalid_input", id="unknown-field"),
        pytest.param(post(raw="{}"), 422, "invalid_input", id="missing-text"),
        pytest.param(post(""), 422, "invalid_input", id="empty-text"),
        pytest.param(post("x" * (16 * 1024 + 1)), 413, "payload_too_large", id="text-over-16kb"),
        pytest.param(post("hi", conversation_id="a#b"), 422, "invalid_input", id="bad-conversation-id"),
    ],
)
def test_bad_input_gets_a_json_error_and_stores_nothing(
    stack: Stack, event: dict[str, Any], status: int, code: str
) -> None:
    got_status, body, _ = invoke(event)
    assert got_status == status
    assert body is not None and body["error"] == code and body["message"]
    assert stack.count_items("StateTable") == 0


def test_bad_input_does_not_disturb_an_existing_conversation(stack: Stack) -> None:
    invoke(post("hello", conversation_id="keep", message_id="k-1"))
    before = stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"]
    invoke(post(raw='{"text": "hi", "conversation_id": "keep", "bogus": 1}'))
    invoke(post("y" * 20000, conversation_id="keep", message_id="k-2"))
    after = stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"]
    assert sorted(map(str, after)) == sorted(map(str, before))


def test_binary_base64_body_is_rejected_as_not_utf8(stack: Stack) -> None:
    event = load_event("http/post_message_base64.json")
    event["body"] = base64.b64encode(b"\xff\xfe\x00binary").decode()
    status, body, _ = invoke(event)
    assert status == 422
    assert body is not None and body["details"]["reason"] == "not_utf8"


def test_missing_authorizer_context_is_401(stack: Stack) -> None:
    event = load_event("http/post_message.json")
    del event["requestContext"]["authorizer"]
    status, body, _ = invoke(event)
    assert status == 401
    assert body is not None and body["error"] == "unauthorized"


def test_replayed_message_id_returns_the_first_reply_and_stores_one_turn(stack: Stack) -> None:
    first = invoke(post("hello", conversation_id="idem", message_id="same-id"))
    second = invoke(post("hello", conversation_id="idem", message_id="same-id"))
    assert first[0] == second[0] == 200
    assert first[1] == second[1]
    turns = [
        i for i in stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"] if i["sk"]["S"][:3] == "T#0"
    ]
    assert len(turns) == 1


def test_reused_message_id_with_other_text_is_refused(stack: Stack) -> None:
    assert invoke(post("hello", conversation_id="idem", message_id="dup"))[0] == 200
    status, body, _ = invoke(post("something else", conversation_id="idem", message_id="dup"))
    assert status == 409
    assert body is not None and body["error"] == "conflict"


def test_idempotency_key_header_names_the_message(stack: Stack) -> None:
    event = post("hello")
    event["headers"]["idempotency-key"] = "from-header-1"
    status, body, _ = invoke(event)
    assert status == 200 and body is not None and body["message_id"] == "from-header-1"


def test_head_health_answers_200_like_curl_i_expects(stack: Stack) -> None:
    event = load_event("http/health.json")
    event["requestContext"]["http"]["method"] = "HEAD"
    event["routeKey"] = "HEAD /health"
    status, _body, headers = invoke(event)
    assert status == 200
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        pytest.param("GET", "/v1/nowhere", 404, "not_found", id="unknown-route"),
        pytest.param("PUT", "/v1/messages", 405, "method_not_allowed", id="wrong-method"),
        pytest.param("GET", "/v1/conversations/c-1/messages", 422, "invalid_input", id="bad-query"),
    ],
)
def test_router_errors_use_the_documented_error_shape(
    stack: Stack, method: str, path: str, status: int, code: str
) -> None:
    event = at_path(load_event("http/get_messages.json"), path, "limit=0" if status == 422 else "")
    event["requestContext"]["http"]["method"] = method
    got_status, body, headers = invoke(event)
    assert got_status == status
    assert body is not None and body["error"] == code and body["message"]
    assert "detail" not in body
    if status == 405:
        assert "GET" not in headers.get("allow", "") and "POST" in headers.get("allow", "")


def test_openapi_document_describes_router_errors_with_the_error_shape() -> None:
    doc = http_app.app.openapi()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status in ("404", "405", "422"):
                content = op["responses"][status]["content"]["application/json"]["schema"]
                assert content == {"$ref": "#/components/schemas/ErrorBody"}, (path, method, status)


def test_the_openapi_document_is_the_one_the_eager_error_responses_gave() -> None:
    """The error responses and the message body's schema are added when the document is first asked for
    (deferred_openapi, for the cold start); the document is what declaring them on the app and the route gave."""
    from fastapi import FastAPI
    from fastapi.routing import APIRoute

    reference = FastAPI(
        title=http_app.app.title,
        version=http_app.app.version,
        responses={code: {"model": http_app.ErrorBody} for code in http_app.ERROR_CODES},
    )
    for route in http_app.app.routes:
        if not isinstance(route, APIRoute):
            continue
        reference.add_api_route(
            route.path,
            route.endpoint,
            response_model=route.response_model,
            status_code=route.status_code,
            methods=route.methods,
            name=route.name,
            openapi_extra=http_app.message_request_body() if route.path == "/v1/messages" else None,
            generate_unique_id_function=lambda _route, unique_id=route.unique_id: unique_id,
        )
    assert http_app.app.openapi() == reference.openapi()
    assert "ErrorBody" in reference.openapi()["components"]["schemas"]  # the comparison covers the error shape
