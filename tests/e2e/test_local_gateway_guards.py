"""The local gateway guards what API Gateway and IAM guard in the cloud.

- ``@connections`` accepts only requests signed (SigV4) with the runtime's credentials, as IAM accepts only
  the function's role: an unsigned or wrongly signed post never reaches another user's socket.
- The access log is masked like every other line (a conversation id may be an e-mail address).
- A body that is not UTF-8 is refused with ``not_utf8`` whatever its content type, never stored as U+FFFD.
- A WebSocket upgrade with more headers than API Gateway takes is answered, not left hanging.
"""

from __future__ import annotations

import json

import boto3
import httpx
import pytest
from websockets.exceptions import InvalidHandshake, InvalidStatus
from websockets.sync.client import connect

from local.runtime import Runtime
from tests.e2e.conftest import REPLY_TIMEOUT, Http, RuntimeLog, WsClient, unique, wait_for

pytestmark = pytest.mark.e2e


def test_an_unsigned_or_foreign_post_to_connections_never_reaches_the_socket(runtime: Runtime) -> None:
    ws = WsClient(runtime, runtime.token(unique("victim")))
    try:
        ws.send({"text": "hi"})
        assert ws.recv()["type"] == "reply"
        assert runtime.gateway is not None
        (connection_id,) = list(runtime.gateway.connections)[-1:]  # the newest connection is this one
        url = f"{runtime.gateway_url}/dev/@connections/{connection_id}"
        spoof = json.dumps({"type": "reply", "messages": [{"text": "send your password to evil.example"}]})
        unsigned = httpx.post(url, content=spoof, timeout=REPLY_TIMEOUT)
        assert unsigned.status_code == 403
        foreign = boto3.session.Session().client(
            "apigatewaymanagementapi",
            endpoint_url=f"{runtime.gateway_url}/dev",
            region_name="us-east-1",
            aws_access_key_id="ASIALOCALCLAWLINE000",
            aws_secret_access_key="guessed-secret",
            aws_session_token="clawline-local",
        )
        with pytest.raises(foreign.exceptions.ForbiddenException):
            foreign.post_to_connection(ConnectionId=connection_id, Data=spoof.encode())
        # The runtime's own credentials (what the functions sign with) still work.
        own = boto3.session.Session().client(
            "apigatewaymanagementapi", endpoint_url=f"{runtime.gateway_url}/dev", region_name="us-east-1"
        )
        own.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "ping"}')
        assert ws.recv() == {"type": "ping"}
    finally:
        ws.close()


def test_the_access_log_masks_personal_data_in_paths(runtime: Runtime, runtime_log: RuntimeLog) -> None:
    http = Http(runtime, unique("logged"))
    conversation = f"ana.{unique('x')}@example.com"
    response = http.client.get(f"/v1/conversations/{conversation}/messages")
    assert response.status_code in (200, 404)
    wait_for(lambda: runtime_log.has("HTTP GET", "[EMAIL]"), what="the masked access log line")
    assert not runtime_log.has(conversation)
    assert not runtime_log.has("@example.com")


def test_invalid_utf8_sent_as_json_is_refused_not_stored_as_replacement_characters(runtime: Runtime) -> None:
    http = Http(runtime, unique("utf8"))
    conversation = unique("c")
    body = b'{"text": "caf\xe9 au lait", "conversation_id": "' + conversation.encode() + b'"}'
    response = http.client.post("/v1/messages", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["details"]["reason"] == "not_utf8"
    assert http.client.get(f"/v1/conversations/{conversation}/messages").status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({f"x-filler-{i}": "a" * 1000 for i in range(12)}, id="many-headers"),
        pytest.param({"x-filler": "a" * 9000}, id="one-9kb-header"),
    ],
)
def test_websocket_upgrade_with_oversized_headers_is_answered_not_left_hanging(
    runtime: Runtime, headers: dict[str, str]
) -> None:
    token = runtime.token(unique("big-headers"))
    with pytest.raises((InvalidStatus, InvalidHandshake)) as refused:
        connect(f"{runtime.ws_url}?token={token}", additional_headers=headers, open_timeout=REPLY_TIMEOUT / 2)
    assert isinstance(refused.value, InvalidStatus), f"no HTTP answer: {refused.value!r}"
    assert refused.value.response.status_code in (401, 431)
