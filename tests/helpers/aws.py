"""Loopback AWS for tests: moto's server (DynamoDB, SQS) started by the test session, and a recorder
standing in for the two data-plane APIs moto only records in-process (@connections and iot-data publish).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import boto3

from tests.helpers.loopback import serve


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")


@dataclass
class Recorder:
    """Records @connections posts and iot-data publishes; answers 410 Gone for ids listed in ``gone``."""

    posts: list[tuple[str, bytes]] = field(default_factory=list)
    publishes: list[tuple[str, bytes]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def frames(self, connection_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(data) for cid, data in self.posts if cid == connection_id]

    def published(self, topic: str) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(data) for t, data in self.publishes if t == topic]


def serve_recorder(recorder: Recorder) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            path = urllib.parse.urlsplit(self.path).path
            if "/@connections/" in path:
                connection_id = urllib.parse.unquote(path.rsplit("/@connections/", 1)[1])
                if connection_id in recorder.gone:
                    self.send_response(410)
                    self.send_header("x-amzn-ErrorType", "GoneException")
                    self.send_header("content-type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"message": null}')
                    return
                with recorder.lock:
                    recorder.posts.append((connection_id, body))
            elif path.startswith("/topics/"):
                with recorder.lock:
                    recorder.publishes.append((urllib.parse.unquote(path[len("/topics/") :]), body))
            else:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

    with serve(Handler) as url:
        yield url
