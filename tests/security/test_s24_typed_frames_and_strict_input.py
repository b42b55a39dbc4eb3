"""S24: every WebSocket frame a client gets is typed and names its message; S25: input is strict JSON in UTF-8.

- A failure that is not Clawline's own (a botocore error, a bug) answers ``{"type": "error", "message_id",
  "error": "internal_error"}`` instead of escaping as a Lambda error (API Gateway's untyped frame).
- Binary frames (``isBase64Encoded``) are decoded before parsing; bytes that are not UTF-8 are ``not_utf8``.
- ``NaN``, ``Infinity`` and duplicate keys are refused on every channel, with the reason in the error.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fastapi.testclient import TestClient

from clawline import composition
from clawline.channels.payloads import decode_json_object
from clawline.errors import InvalidInputError
from tests.functional.conftest import Stack
from tests.helpers.tokens import Issuer
from tests.security.conftest import bearer, invoke_mqtt, invoke_ws, mqtt_event, ws_connect, ws_message

STRICT_CASES = [
    pytest.param('{"text": "hi", "metadata": {"n": NaN}}', "not_json_number", id="nan"),
    pytest.param('{"text": "hi", "metadata": {"n": -Infinity}}', "not_json_number", id="infinity"),
    pytest.param('{"text": "harmless", "text": "the one a proxy never saw"}', "duplicate_key", id="duplicate-key"),
    pytest.param('{"text": "hi", "metadata": {"a": 1, "a": 2}}', "duplicate_key", id="nested-duplicate-key"),
]


def connected(stack: Stack, connection_id: str, sub: str = "alice") -> None:
    assert invoke_ws(ws_connect(connection_id, sub))["statusCode"] == 200


def binary(connection_id: str, data: bytes) -> dict[str, Any]:
    event = ws_message(connection_id, "")
    event["body"] = base64.b64encode(data).decode()
    event["isBase64Encoded"] = True
    return event


def test_s24_a_botocore_failure_mid_turn_reaches_the_client_as_a_typed_error_frame(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    connected(stack, "conn-boto")
    runner = composition.turn_runner()

    def failing(_message: Any) -> Any:
        raise ClientError({"Error": {"Code": "ValidationException", "Message": "boom"}}, "TransactWriteItems")

    monkeypatch.setattr(runner, "run_once", failing)  # the WebSocket function calls run_once
    assert invoke_ws(ws_message("conn-boto", {"text": "hi", "message_id": "m-boto"})) == {"statusCode": 200}
    (frame,) = stack.recorder.frames("conn-boto")
    assert frame["type"] == "error"
    assert frame["message_id"] == "m-boto"
    assert frame["error"] == "internal_error"
    assert "boom" not in json.dumps(frame)


def test_s24_an_invalid_frame_names_its_message_id(stack: Stack) -> None:
    connected(stack, "conn-invalid")
    invoke_ws(ws_message("conn-invalid", {"text": "", "message_id": "m-empty"}))
    (frame,) = stack.recorder.frames("conn-invalid")
    assert (frame["type"], frame["message_id"], frame["error"]) == ("error", "m-empty", "invalid_input")


def test_s24_binary_frames_are_decoded_before_parsing(stack: Stack) -> None:
    connected(stack, "conn-binary")
    invoke_ws(binary("conn-binary", json.dumps({"text": "hi", "message_id": "m-bin"}).encode()))
    invoke_ws(binary("conn-binary", b'{"text": "caf\xe9", "message_id": "m-latin1"}'))
    reply, refused = stack.recorder.frames("conn-binary")
    assert (reply["type"], reply["message_id"]) == ("reply", "m-bin")
    assert (refused["type"], refused["error"], refused["details"]["reason"]) == ("error", "invalid_input", "not_utf8")


@pytest.mark.parametrize(("body", "reason"), STRICT_CASES)
def test_s25_nan_infinity_and_duplicate_keys_are_refused_on_every_channel(
    stack: Stack, issuer: Issuer, body: str, reason: str, engine_calls: list[str]
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        decode_json_object(body, max_bytes=64 * 1024)
    assert refused.value.details["reason"] == reason
    # HTTP
    import http_app

    response = TestClient(http_app.app).post(
        "/v1/messages", content=body, headers={**bearer(issuer.token("alice")), "content-type": "application/json"}
    )
    assert response.status_code in (400, 422), response.text
    assert response.json()["details"]["reason"] == reason
    # WebSocket
    connected(stack, "conn-strict")
    invoke_ws(ws_message("conn-strict", body))
    (frame,) = stack.recorder.frames("conn-strict")
    assert (frame["type"], frame["details"]["reason"]) == ("error", reason)
    # MQTT: an error reply to the device, no turn
    invoke_mqtt(mqtt_event(body.encode(), thing="strict-device"))
    (reply,) = stack.recorder.published("clawline/strict-device/out")
    assert (reply["type"], reply["details"]["reason"]) == ("error", reason)
    assert engine_calls == []
