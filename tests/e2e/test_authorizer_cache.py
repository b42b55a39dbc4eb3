"""The authorizer cache as API Gateway keeps it (keyed by the identity sources, 300 s), through the local gateway.

The reported attack: user A sends ``POST /v1/messages?token=<A's JWT>`` with ``Authorization: undefined``; the
allow was cached under ``undefined``, so anyone sending ``Authorization: undefined`` without a token read A's
conversation. The token must come from the identity source alone.
"""

from __future__ import annotations

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from local.runtime import Runtime
from tests.e2e.conftest import REPLY_TIMEOUT, Http, WsClient, unique

pytestmark = pytest.mark.e2e


def test_a_token_outside_the_authorization_header_never_lets_a_tokenless_caller_act_as_its_owner(
    runtime: Runtime,
) -> None:
    alice = Http(runtime, unique("alice"))
    conversation = unique("c")
    header = {"Authorization": "undefined"}
    with httpx.Client(base_url=runtime.http_url, timeout=REPLY_TIMEOUT) as anonymous:
        planted = anonymous.post(
            "/v1/messages",
            params={"token": alice.token},
            headers=header,
            json={"text": "my locker code is 4417", "conversation_id": conversation},
        )
        assert planted.status_code == 403, planted.text
        stolen = anonymous.get(f"/v1/conversations/{conversation}/messages", headers=header)
        assert stolen.status_code == 403
        assert "4417" not in stolen.text
        assert anonymous.post("/v1/messages", headers=header, json={"text": "hi"}).status_code == 403
    # Alice herself, with her token where the API reads it, is served.
    alice.say("my locker code is 4417", conversation)
    assert any("4417" in t["user_text"] for t in alice.history(conversation))


def test_the_cached_answer_belongs_to_the_header_that_carried_the_token(runtime: Runtime) -> None:
    alice, bob = Http(runtime, unique("alice")), Http(runtime, unique("bob"))
    conversation = unique("c")
    alice.say("hello", conversation)
    # Bob's own (cached) allow does not open Alice's conversation, and Alice's token in his query changes nothing.
    assert bob.client.get(f"/v1/conversations/{conversation}/messages").status_code == 404
    response = bob.client.get(f"/v1/conversations/{conversation}/messages", params={"token": alice.token})
    assert response.status_code == 404


def test_websocket_connect_reads_the_token_from_the_query_identity_source_only(runtime: Runtime) -> None:
    token = runtime.token(unique("ws-header"))
    # A header token without the identity source: API Gateway answers 401 without calling the authorizer.
    with pytest.raises(InvalidStatus) as refused:
        connect(runtime.ws_url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=REPLY_TIMEOUT)
    assert refused.value.response.status_code == 401
    # A junk identity source with the real token in the header is denied, not accepted through the header.
    with pytest.raises(InvalidStatus) as denied:
        connect(
            f"{runtime.ws_url}?token=undefined",
            additional_headers={"Authorization": f"Bearer {token}"},
            open_timeout=REPLY_TIMEOUT,
        )
    assert denied.value.response.status_code == 403
    ws = WsClient(runtime, token)
    try:
        assert ws.say("hi")["type"] == "reply"
    finally:
        ws.close()
