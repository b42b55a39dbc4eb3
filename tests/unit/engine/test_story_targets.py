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
    error = {"type": "error", "error": "invalid_payload", "message": "x"}
    result = websocket_run(lambda mid: [{**error, "message_id": mid}])
    assert result.failures == ["step 1 ('hello'): RuntimeError: invalid_payload: x"]


def test_http_target_waits_as_long_as_retry_after_says_then_sends_again():
    answers = [
        httpx.Response(429, headers={"Retry-After": "2"}, json={"error": "rate_limited"}),
        httpx.Response(429, headers={"Retry-After": "1"}, json={"error": "rate_limited"}),
        httpx.Response(200, json={"intent": "greet", "replies": [{"text": "Hi!"}]}),
    ]
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content)["message_id"])
        return answers.pop(0)

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    target = HttpTarget("http://bot.test", transport=httpx.MockTransport(answer))
    result = asyncio.run(run_story(target, STORY, conversation_id="c", sleep=sleep))
    assert result.failures == []
    assert waits == [2.0, 1.0]
    assert sent == ["c-1", "c-1", "c-1"]  # the same message, not a new one


def test_a_target_that_keeps_refusing_fails_the_step_once_the_wait_budget_is_spent():
    refuse = httpx.MockTransport(lambda r: httpx.Response(429, headers={"Retry-After": "45"}))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    result = asyncio.run(run_story(HttpTarget("http://bot.test", transport=refuse), STORY, sleep=sleep))
    assert waits == [45.0]
    assert "RateLimitedError: rate limited, retry after 45 s" in result.failures[0]


def test_a_rate_limited_websocket_frame_is_waited_for_and_the_message_sent_again():
    target = WebSocketTarget("ws://bot.test")
    reply = {"type": "reply", "message_id": "conv-1", "messages": [{"text": "Hi!"}], "intent": "greet"}
    reply["slots"] = {"a": 1}
    limited = {"type": "error", "message_id": "conv-1", "error": "rate_limited", "details": {"retry_after_seconds": 3}}
    connection = FakeConnection([limited, reply])
    target._connections["conv"] = connection
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    result = asyncio.run(run_story(target, STORY, conversation_id="conv", sleep=sleep))
    assert result.failures == []
    assert waits == [3.0]
    assert [f["message_id"] for f in connection.sent] == ["conv-1", "conv-1"]


def test_a_story_for_another_channel_is_not_applicable_on_a_remote_target():
    mqtt_story = Story(name="device", channel="mqtt", steps=[Step(user="hello")])
    step_on_mqtt = Story(name="mixed", steps=[Step(user="hello"), Step(user="x", channel="mqtt")])
    target = HttpTarget("http://bot.test", transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    for story in (mqtt_story, step_on_mqtt):
        result = asyncio.run(run_story(target, story))
        assert result.not_applicable == "written for the mqtt channel, the target is http"
        assert result.failures == []
    http_story = Story(name="web", channel="http", steps=[Step(user="hello", bot="Hi!")])
    ok = httpx.MockTransport(lambda r: httpx.Response(200, json={"replies": [{"text": "Hi!"}]}))
    result = asyncio.run(run_story(HttpTarget("http://bot.test", transport=ok), http_story))
    assert (result.not_applicable, result.failures) == (None, [])


def test_the_test_command_reports_stories_for_other_channels_as_not_applicable(tmp_path, capsys, monkeypatch):
    from clawline.cli import main

    from .helpers import BASE, write_bot

    bot = write_bot(tmp_path / "bot", BASE + "responses:\n  hi: [Hi!]\nrules:\n  - {name: hi, then: [{reply: hi}]}\n")
    stories = tmp_path / "stories.yaml"
    stories.write_text(
        "stories:\n"
        "  - {name: web, channel: http, steps: [{user: hello, bot: Hi!}]}\n"
        "  - {name: device, channel: mqtt, steps: [{user: hello, bot: Hi!}]}\n",
        encoding="utf-8",
    )
    ok = httpx.MockTransport(lambda r: httpx.Response(200, json={"replies": [{"text": "Hi!"}]}))
    real = HttpTarget.__init__

    def with_transport(self, *args, **kwargs):
        real(self, *args, **{**kwargs, "transport": ok})

    monkeypatch.setattr(HttpTarget, "__init__", with_transport)
    code = main(["test", str(bot), "--stories", str(stories), "--target", "http", "--url", "http://bot.test"])
    out = capsys.readouterr().out
    assert code == 0
    assert "SKIP  device" in out and "written for the mqtt channel, the target is http" in out
    assert "1 passed, 0 failed, 1 not applicable" in out
