"""The WebSocket API as API Gateway serves it: the authorizer at $connect (a denied upgrade is an HTTP
status, not a socket), @connections for the function's replies (410 for gone ids), $disconnect after every
close, API Gateway's frame limit, and bad frames answered without losing the connection."""

from __future__ import annotations

import json
import socket

import pytest
from botocore.exceptions import ClientError
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from local.runtime import Runtime
from tests.e2e.conftest import REPLY_TIMEOUT, Http, RuntimeLog, WsClient, aws, unique, wait_for

pytestmark = pytest.mark.e2e


def connections_of(runtime: Runtime, sub: str) -> list[str]:
    """The user's open connection ids, from the connections table's by_principal index (owner key user:{sub})."""
    items = aws(runtime, "dynamodb").query(
        TableName=runtime.tables["ConnectionsTable"],
        IndexName="by_principal",
        KeyConditionExpression="principal = :p",
        ExpressionAttributeValues={":p": {"S": f"user:{sub}"}},
    )["Items"]
    return [i["connection_id"]["S"] for i in items]


def management(runtime: Runtime) -> object:
    import boto3

    return boto3.session.Session().client(
        "apigatewaymanagementapi", endpoint_url=f"{runtime.gateway_url}/dev", region_name="us-east-1"
    )


@pytest.mark.parametrize(
    ("token", "status"), [("", 401), ("not-a-jwt", 403)], ids=["no-token-identity-source-missing", "bad-token-deny"]
)
def test_connect_with_a_token_that_fails_verification_is_refused(runtime: Runtime, token: str, status: int) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{runtime.ws_url}?token={token}" if token else runtime.ws_url, open_timeout=REPLY_TIMEOUT)
    assert refused.value.response.status_code == status


def test_bad_frames_get_error_frames_and_the_connection_keeps_working(runtime: Runtime) -> None:
    ws = WsClient(runtime, runtime.token(unique("ws-bad")))
    try:
        bad = [
            ('{"text": "hi",', "invalid_input"),  # malformed JSON
            (json.dumps({"conversation_id": "c"}), "invalid_input"),  # missing text
            (json.dumps({"text": "hi", "colour": "red"}), "invalid_input"),  # unknown field
            (json.dumps({"text": "x" * (16 * 1024 + 1)}), "payload_too_large"),  # text over 16 KB (frame under 32 KB)
        ]
        for frame, code in bad:
            ws.send(frame)
            reply = ws.recv()
            assert reply["type"] == "error" and reply["error"] == code, (frame[:40], reply)
        assert ws.say("hi")["type"] == "reply"
    finally:
        ws.close()


def test_frame_over_32kb_closes_the_connection_with_1009(runtime: Runtime) -> None:
    ws = WsClient(runtime, runtime.token(unique("ws-big")))
    ws.send(json.dumps({"text": "x" * (33 * 1024)}))
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_connections_api_pushes_to_the_socket_and_answers_410_for_gone_ids(runtime: Runtime) -> None:
    sub = unique("ws-mgmt")
    ws = WsClient(runtime, runtime.token(sub))
    client = management(runtime)
    (connection_id,) = wait_for(lambda: connections_of(runtime, sub), what="the connection record")
    client.post_to_connection(ConnectionId=connection_id, Data=b'{"type": "notice"}')  # type: ignore[attr-defined]
    assert ws.recv() == {"type": "notice"}
    info = client.get_connection(ConnectionId=connection_id)  # type: ignore[attr-defined]
    assert info["Identity"]["SourceIp"] == "127.0.0.1"
    ws.close()
    wait_for(lambda: not connections_of(runtime, sub), what="$disconnect to remove the record")
    with pytest.raises(ClientError) as gone:
        client.post_to_connection(ConnectionId=connection_id, Data=b"{}")  # type: ignore[attr-defined]
    assert gone.value.response["Error"]["Code"] == "GoneException"


def test_delete_connection_closes_the_socket_and_sends_disconnect(runtime: Runtime) -> None:
    sub = unique("ws-delete")
    ws = WsClient(runtime, runtime.token(sub))
    (connection_id,) = wait_for(lambda: connections_of(runtime, sub), what="the connection record")
    management(runtime).delete_connection(ConnectionId=connection_id)  # type: ignore[attr-defined]
    with pytest.raises(ConnectionClosed):
        ws.recv()
    wait_for(lambda: not connections_of(runtime, sub), what="$disconnect to remove the record")


def test_client_that_disappears_mid_turn_gets_410_and_its_turn_is_kept(
    runtime: Runtime, runtime_log: RuntimeLog
) -> None:
    sub = unique("ws-gone")
    conversation = unique("gone")
    ws = WsClient(runtime, runtime.token(sub))
    (connection_id,) = wait_for(lambda: connections_of(runtime, sub), what="the connection record")
    ws.send({"text": "hi", "conversation_id": conversation})
    # Drop the TCP connection without a closing handshake: the reply has nowhere to go.
    ws.connection.socket.shutdown(socket.SHUT_RDWR)
    ws.connection.socket.close()
    wait_for(lambda: runtime_log.has("@connections POST", connection_id, "410"), what="the 410 for the gone client")
    wait_for(lambda: not connections_of(runtime, sub), what="the stale record to be removed")
    turns = Http(runtime, sub).history(conversation)
    assert [t["user_text"] for t in turns] == ["hi"]


def test_replies_come_back_in_order_when_frames_are_pipelined(runtime: Runtime) -> None:
    ws = WsClient(runtime, runtime.token(unique("ws-order")))
    try:
        ids = [f"p-{n}" for n in range(6)]
        for message_id in ids:
            ws.send({"text": "hi", "message_id": message_id})
        assert [ws.recv()["message_id"] for _ in ids] == ids
    finally:
        ws.close()


def test_idle_connection_is_closed_with_1001_and_gets_its_disconnect(runtime: Runtime) -> None:
    assert runtime.gateway is not None
    limits = runtime.gateway.limits
    saved = limits.idle_seconds
    limits.idle_seconds = 1.0  # API Gateway's is 10 minutes (--idle-timeout)
    try:
        sub = unique("ws-idle")
        ws = WsClient(runtime, runtime.token(sub))
        with pytest.raises(ConnectionClosed) as closed:
            ws.connection.recv(timeout=REPLY_TIMEOUT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        wait_for(lambda: not connections_of(runtime, sub), what="$disconnect to remove the record")
    finally:
        limits.idle_seconds = saved


def test_messages_act_as_the_principal_connect_authorized_without_reading_the_connection_table(
    runtime: Runtime,
) -> None:
    """The gateway hands $connect's authorizer context to every message event, as API Gateway does, so the
    function needs no connection-table read per message: with the record gone, messages still act as the user."""
    sub = unique("ws-authctx")
    ws = WsClient(runtime, runtime.token(sub))
    try:
        assert ws.say("hi")["type"] == "reply"
        (connection_id,) = wait_for(lambda: connections_of(runtime, sub), what="the connection record")
        aws(runtime, "dynamodb").delete_item(
            TableName=runtime.tables["ConnectionsTable"], Key={"connection_id": {"S": connection_id}}
        )
        reply = ws.say("thanks", conversation_id="authctx")
        assert reply["type"] == "reply", reply
    finally:
        ws.close()
    # The turn was stored under the principal the authorizer vouched for.
    items = aws(runtime, "dynamodb").query(
        TableName=runtime.tables["StateTable"],
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"C#user:{sub}#authctx"}},
    )["Items"]
    assert len(items) == 1
