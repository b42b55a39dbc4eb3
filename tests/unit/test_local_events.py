"""Events for `clawline invoke` and `clawline generate-event`: shapes API Gateway and the IoT rule send, and the
authorizer context put where API Gateway puts it."""

from __future__ import annotations

import base64
import json

from local import events
from tests.helpers.events import load_event

#: What `sam local generate-event apigateway http-api-proxy` prints (aws-sam-cli 1.x), trimmed.
SAM_HTTP_API_PROXY = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/v1/messages",
    "headers": {"Header1": "value1"},
    "requestContext": {
        "accountId": "123456789012",
        "apiId": "api-id",
        "authorizer": {"jwt": {"claims": {"claim1": "value1"}, "scopes": ["scope1"]}},
        "http": {"method": "POST", "path": "/v1/messages", "protocol": "HTTP/1.1", "sourceIp": "192.168.0.1/32"},
        "requestId": "id",
        "routeKey": "$default",
        "stage": "$default",
    },
    "body": base64.b64encode(b'{"text": "hi"}').decode(),
    "isBase64Encoded": True,
}


def test_every_sample_event_is_recognised_for_its_function() -> None:
    assert events.kind_of(load_event("http/post_message.json")) == "http"
    assert events.kind_of(load_event("websocket/message.json")) == "websocket"
    assert events.kind_of(load_event("websocket/connect.json")) == "websocket"
    assert events.kind_of(load_event("mqtt/message.json")) == "mqtt"
    assert events.kind_of(load_event("authorizer/http_request.json")) == "authorizer"
    assert events.kind_of(load_event("authorizer/websocket_connect.json")) == "authorizer"
    assert events.kind_of(SAM_HTTP_API_PROXY) == "http"
    assert events.kind_of([1, 2]) is None


def test_a_sam_event_gets_the_lambda_authorizer_context_instead_of_jwt_placeholders() -> None:
    filled = events.with_authorizer_context(SAM_HTTP_API_PROXY, "http", {"sub": "alice", "scope": "chat"})
    assert filled["requestContext"]["authorizer"] == {"lambda": {"sub": "alice", "scope": "chat"}}
    assert SAM_HTTP_API_PROXY["requestContext"]["authorizer"]["jwt"]  # the input is left as it was
    assert filled["body"] == SAM_HTTP_API_PROXY["body"]


def test_a_websocket_message_carries_the_connect_context_and_principal() -> None:
    filled = events.with_authorizer_context(load_event("websocket/message.json"), "websocket", {"sub": "bob"})
    assert filled["requestContext"]["authorizer"]["principalId"] == "bob"
    assert filled["requestContext"]["authorizer"]["sub"] == "bob"


def test_generated_events_have_the_shapes_the_handlers_read() -> None:
    http = events.generate("http", "hi there", conversation_id="c1", message_id="m1")
    assert http["rawPath"] == "/dev/v1/messages" and http["routeKey"] == "POST /v1/messages"
    assert json.loads(http["body"]) == {"text": "hi there", "conversation_id": "c1", "message_id": "m1"}
    ws = events.generate("websocket", "hi", route="$default", connection_id="abc=")
    assert ws["requestContext"]["eventType"] == "MESSAGE" and ws["requestContext"]["connectionId"] == "abc="
    assert json.loads(ws["body"])["text"] == "hi"
    assert "body" not in events.generate("websocket", "", route="$connect")
    mqtt = events.generate("mqtt", "ping", thing="oven-2", message_id="m9")
    assert mqtt["thing"] == "oven-2"
    assert json.loads(base64.b64decode(mqtt["payload"])) == {"text": "ping", "message_id": "m9"}


def test_a_token_goes_where_the_request_carries_one() -> None:
    http = events.with_token(load_event("authorizer/http_request.json"), "tok")
    assert http["headers"]["authorization"] == "Bearer tok" and http["identitySource"] == ["Bearer tok"]
    ws = events.with_token(load_event("authorizer/websocket_connect.json"), "tok")
    assert ws["queryStringParameters"]["token"] == "tok"
    assert ws["multiValueQueryStringParameters"]["token"] == ["tok"]
