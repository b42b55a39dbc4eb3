"""Hand-off: the team is told (SNS on moto's server read back through SQS, and a loopback chat webhook), the bot
stays silent for that conversation, and a release gives it back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest

from clawline import aws
from clawline.store.memory import InMemoryConversationStore
from plugins.handoff import release
from tests.helpers.loopback import serve
from tests.unit.engine.helpers import make_engine, say

BOT = """
name: support
slots:
  handoff_active: {type: bool}
plugins:
  - module: plugins.handoff
    class: HandoffPlugin
    config: {topic_arn: "TOPIC", webhook_url: "URL/hook", paused_reply: "A colleague will answer here."}
rules:
  - {name: human, when: text.contains("human"), then: [{plugin: {name: handoff, params: {queue: billing}}}]}
  - {name: hi, when: "true", then: [{reply: hello}]}
"""


class Chat(BaseHTTPRequestHandler):
    posts: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        Chat.posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def team(moto: str) -> Iterator[tuple[str, str, str]]:
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic = sns.create_topic(Name="support-handoffs")["TopicArn"]
    queue = sqs.create_queue(QueueName="handoff-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    sqs.purge_queue(QueueUrl=queue)
    Chat.posts = []
    with serve(Chat) as url:
        yield topic, queue, url


def test_the_team_is_told_and_the_bot_pauses_until_released(tmp_path, team):
    topic, queue, url = team
    store = InMemoryConversationStore()
    engine = make_engine(tmp_path / "bot", BOT.replace("TOPIC", topic).replace("URL", url), store=store)
    say(engine, "my bill is wrong")
    reply = say(engine, "I want a human")
    assert reply.texts == ["I'm handing you over to a colleague; they will answer here shortly."]
    assert [(a.type, a.params["queue"]) for a in reply.actions] == [("handoff", "billing")]
    [message] = aws.client("sqs").receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    event = json.loads(message["Body"])
    assert (event["queue"], event["text"]) == ("billing", "I want a human")
    assert event["transcript"][0]["user"] == "my bill is wrong"
    [post] = Chat.posts
    assert "I want a human" in post["text"]

    paused = say(engine, "hello? anyone?")
    assert paused.texts == ["A colleague will answer here."]
    assert paused.trace == ["plugin:handoff"]

    assert release(store, "c1", "u1") is True
    assert say(engine, "hi again").texts == ["Hello!"]
    assert release(store, "c1", "u1") is False


def test_a_topic_or_a_webhook_is_required(tmp_path):
    from clawline.bot.compiled import Bot
    from clawline.bot.loader import BotDefinitionError
    from tests.unit.engine.helpers import write_bot

    text = "name: x\nslots:\n  handoff_active: {type: bool}\n"
    text += "plugins:\n  - {module: plugins.handoff, class: HandoffPlugin}\n"
    with pytest.raises(BotDefinitionError, match="the team must be told"):
        Bot.load(write_bot(tmp_path / "bot", text))
