"""The targets shared by the hypothesis mirror (tests/fuzz/test_s12_*) and the atheris harnesses (`make fuzz`).

Each target feeds arbitrary bytes to one parser and lets only the validation errors that parser promises escape;
anything else (a KeyError, a RecursionError, a UnicodeError...) is a bug the fuzzers report.
"""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path
from typing import Any

from clawline.bot.compiled import Bot
from clawline.bot.loader import BotDefinitionError
from clawline.channels import mqtt
from clawline.channels.payloads import decode_json_object, envelope_limit, parse_payload, to_inbound
from clawline.errors import InvalidInputError
from clawline.messages import DEFAULT_MAX_TEXT_BYTES, Channel

MAX_BYTES = envelope_limit(DEFAULT_MAX_TEXT_BYTES)

#: What each parser may raise on bad input; everything else is a bug.
EXPECTED: tuple[type[BaseException], ...] = (InvalidInputError,)


def websocket_body(data: bytes) -> None:
    """The $default route's body as API Gateway hands it over (a str) through to the engine's message."""
    body = data.decode("utf-8", errors="surrogateescape")
    payload = parse_payload(decode_json_object(body, max_bytes=MAX_BYTES), max_text_bytes=DEFAULT_MAX_TEXT_BYTES)
    to_inbound(payload, channel=Channel.WEBSOCKET, sender="fuzz", max_text_bytes=DEFAULT_MAX_TEXT_BYTES)


def iot_payload(data: bytes) -> None:
    """An IoT rule event: the device's raw bytes, base64-encoded by the rule SQL, then decoded and parsed."""
    event = {"payload": base64.b64encode(data).decode(), "thing": "fuzz-thing", "client_id": "fuzz-thing"}
    rule_event = mqtt.parse_event(event)
    raw = mqtt.decode_payload(rule_event)
    parse_payload(decode_json_object(raw, max_bytes=MAX_BYTES), max_text_bytes=DEFAULT_MAX_TEXT_BYTES)


def iot_event(data: bytes) -> None:
    """The rule event itself is JSON we did not write (the rule may change): any shape must be refused cleanly."""
    try:
        event: Any = json.loads(data)
    except (ValueError, RecursionError):
        return  # Lambda's own JSON decoding of the event, not ours
    if isinstance(event, dict):
        mqtt.decode_payload(mqtt.parse_event(event))
        mqtt.thing_from_event(event)


def http_envelope(data: bytes) -> None:
    """An API Gateway HTTP API v2 event with arbitrary body bytes, through Mangum to FastAPI."""
    import http_app

    event = {
        "version": "2.0",
        "routeKey": "GET /health",
        "rawPath": "/health",
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {
                "method": "GET",
                "path": "/health",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.1",
                "userAgent": "fuzz",
            },
            "stage": "$default",
            "requestId": "fuzz",
            "routeKey": "GET /health",
            "timeEpoch": 0,
        },
        "isBase64Encoded": True,
        "body": base64.b64encode(data).decode(),
    }
    response = http_app._adapter("$default")(event, None)
    assert response["statusCode"] < 500, response


def bot_yaml(data: bytes) -> None:
    """bot.yaml with arbitrary content: a definition error names the problem, nothing else escapes."""
    with tempfile.TemporaryDirectory() as tmp:
        bot = Path(tmp) / "bot.yaml"
        bot.write_bytes(data)
        try:
            Bot.load(tmp, load_plugins=False)
        except BotDefinitionError:
            return


TARGETS = {
    "websocket_body": websocket_body,
    "iot_payload": iot_payload,
    "iot_event": iot_event,
    "http_envelope": http_envelope,
    "bot_yaml": bot_yaml,
}


def run(target: str, data: bytes) -> None:
    try:
        TARGETS[target](data)
    except EXPECTED:
        return
