"""Remote story targets read each channel's answer correctly (no sockets: fake transport and connection)."""

from __future__ import annotations

import asyncio
import json

import httpx

from clawline.stories.models import Step, Story
from clawline.stories.runner import HttpTarget, WebSocketTarget, run_story

STORY = Story(name="s", steps=[Step(user="hello", intent="greet", bot="Hi!", slots={"a": 1})])


def test_http_target_posts_the_client_payload_and_reads_the_reply():
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        reply = {"conversation_id": body["conversation_id"], "message_id": body["message_id"], "intent": "greet"}
        return httpx.Response(200, json={**reply, "replies": [{"text": "Hi!", "buttons": []}], "confidence": 0.9})

    target = HttpTarget("http://bot.test/", "tok", transport=httpx.MockTransport(answer))
    result = asyncio.run(run_story(target, STORY))
    assert result.failures == []
    assert result.skipped == ["step 1 ('hello'): slots not reported by http"]
    [request] = seen
    assert request.url == "http://bot.test/v1/messages"
    assert request.headers["Authorization"] == "Bearer tok"
    assert json.loads(request.content)["text"] == "hello"


def test_http_target_reports_an_error_status_as_a_failure():
    target = HttpTarget("http://bot.test", transport=httpx.MockTransport(lambda r: httpx.Response(401)))
    result = asyncio.run(run_story(target, STORY))
    assert "HTTPStatusError" in result.failures[0]


class FakeConnection:
    def __init__(self, frames: list[dict[str, object]]) -> None:
        self.frames = [json.dumps(f) for f in frames]
        self.sent: list[dict[str, object]] = []

    async def send(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def recv(self) -> str:
        return self.frames.pop(0)

    async def close(self) -> None:
        pass


def websocket_run(frames_for_message):
    target = WebSocketTarget("ws://bot.test")
    target._connections["conv"] = FakeConnection(frames_for_message("conv-1"))
    return asyncio.run(run_story(target, STORY, conversation_id="conv"))


def test_websocket_target_joins_chunks_and_ignores_other_messages():
    def frames(message_id):
        reply = {"type": "reply", "message_id": message_id, "messages": [{"text": "Hi!"}], "intent": "greet"}
        reply["slots"] = {"a": 1}
        text = json.dumps(reply)
        half = len(text) // 2
        return [
            {"type": "reply", "message_id": "someone-else", "messages": [{"text": "no"}]},
            {"type": "chunk", "id": "k", "seq": 1, "total": 2, "data": text[half:]},
            {"type": "chunk", "id": "k", "seq": 0, "total": 2, "data": text[:half]},
        ]

    result = websocket_run(frames)
    assert result.failures == []
    assert result.skipped == []


def test_websocket_error_frame_fails_the_step():
    result = websocket_run(lambda mid: [{"type": "error", "message_id": mid, "error": "rate_limited", "message": "x"}])
    assert result.failures == ["step 1 ('hello'): RuntimeError: rate_limited: x"]
