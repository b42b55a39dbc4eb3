"""Sending frames back to WebSocket clients through the API Gateway @connections API.

API Gateway refuses frames over 32 KB and messages over 128 KB, so a large reply is split into
``{"type": "chunk", "seq", "total", "data"}`` frames that a client joins in order.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from clawline.aws import client
from clawline.observability import MetricName, count, logger

#: API Gateway's frame limit is 32 KB; stay under it with room for the chunk envelope.
MAX_FRAME_BYTES = 32 * 1024
CHUNK_DATA_BYTES = 24 * 1024


def management_endpoint(domain: str, stage: str) -> str | None:
    """The @connections endpoint for a connection's API; None lets boto3 use AWS_ENDPOINT_URL_* (local runtime)."""
    if os.environ.get("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI") or os.environ.get("AWS_ENDPOINT_URL"):
        return None
    return f"https://{domain}/{stage}"


def frames_for(message: dict[str, Any]) -> list[bytes]:
    """One frame, or chunk frames when the message does not fit in one."""
    data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(data) <= MAX_FRAME_BYTES:
        return [data]
    text = data.decode("utf-8")
    chunk_id = uuid.uuid4().hex
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:  # split on characters, never inside a UTF-8 sequence
        n = len(ch.encode("utf-8"))
        if size + n > CHUNK_DATA_BYTES:
            pieces.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += n
    if current:
        pieces.append("".join(current))
    return [
        json.dumps(
            {"type": "chunk", "id": chunk_id, "seq": i, "total": len(pieces), "data": piece},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode("utf-8")
        for i, piece in enumerate(pieces)
    ]


class WebSocketNotifier:
    """Posts frames to connections; a 410 Gone means the client left, so its record is removed."""

    def __init__(self, management_client: Any, on_gone: Callable[[str], None]) -> None:
        self._client = management_client
        self._on_gone = on_gone

    @classmethod
    def for_api(cls, domain: str, stage: str, on_gone: Callable[[str], None]) -> WebSocketNotifier:
        return cls(client("apigatewaymanagementapi", endpoint_url=management_endpoint(domain, stage)), on_gone)

    def send(self, connection_id: str, message: dict[str, Any]) -> bool:
        """True if every frame was delivered; False if the connection is gone (and was forgotten)."""
        for frame in frames_for(message):
            try:
                self._client.post_to_connection(ConnectionId=connection_id, Data=frame)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "GoneException":
                    count(MetricName.STALE_CONNECTIONS)
                    logger.info("connection gone, forgetting it", extra={"connection_id": connection_id})
                    self._on_gone(connection_id)
                    return False
                if exc.response.get("Error", {}).get("Code") == "PayloadTooLargeException":
                    # Frames are sized under the limit, so this means API Gateway's limit changed under us:
                    # report it, and keep the connection (it is not gone) and the turn (it is stored).
                    count(MetricName.ERRORS)
                    logger.error("frame refused as too large", extra={"connection_id": connection_id})
                    return False
                raise
        return True
