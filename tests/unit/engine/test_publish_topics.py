"""settings.publish_topics: a publish outside the allow-list is refused at validation and again at run time."""

from __future__ import annotations

from pathlib import Path

import pytest

from clawline.bot.compiled import Bot
from clawline.bot.loader import BotDefinitionError
from clawline.channels.actions import carry_out
from clawline.messages import Action, Reply
from clawline.topics import TopicAllowList

BOT = """
name: pub
settings: {{mode: rules, publish_topics: {topics}}}
responses:
  fallback: ["?"]
rules:
  - name: cmd
    when: text == "go"
    then: [{{publish: {{channel: mqtt, topic: "{topic}", text: hi}}}}]
"""


def load(tmp_path: Path, topics: str, topic: str) -> Bot:
    (tmp_path / "bot.yaml").write_text(BOT.format(topics=topics, topic=topic))
    return Bot.load(tmp_path, load_plugins=False)


@pytest.mark.parametrize(
    ("topics", "topic"),
    [
        ('["devices/{thing}/cmd"]', "devices/{sender}/cmd"),
        ('["kitchen/orders", "devices/{thing}/cmd"]', "kitchen/orders"),
    ],
)
def test_publish_inside_the_allow_list_validates(tmp_path: Path, topics: str, topic: str) -> None:
    assert load(tmp_path, topics, topic).settings.publish_topics


@pytest.mark.parametrize(
    ("topics", "topic"),
    [
        ("[]", "kitchen/orders"),
        ('["devices/{thing}/cmd"]', "devices/{sender}/other"),
        ('["devices/{thing}/cmd"]', "devices/{sender}"),
        ('["kitchen/orders"]', "kitchen/{sender}"),
    ],
)
def test_publish_outside_the_allow_list_is_refused_at_validation(tmp_path: Path, topics: str, topic: str) -> None:
    with pytest.raises(BotDefinitionError, match=r"not in settings\.publish_topics"):
        load(tmp_path, topics, topic)


@pytest.mark.parametrize("pattern", ["devices/+/cmd", "devices/#", "$aws/things/x/shadow/update", "a//b", "a/{b c}"])
def test_wildcards_and_reserved_topics_are_not_patterns(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(BotDefinitionError, match="not a topic pattern"):
        load(tmp_path, f'["{pattern}"]', "kitchen/orders")


@pytest.mark.parametrize("topic", ["devices/a/b/cmd", "devices/+/cmd", "devices/#/cmd", "$aws/x", "other/a/cmd"])
def test_a_rendered_topic_outside_the_list_is_not_published(topic: str) -> None:
    sent: list[str] = []
    reply = Reply(
        message_id="m",
        conversation_id="c",
        actions=[Action(type="publish", params={"channel": "mqtt", "topic": topic})],
    )
    (outcome,) = carry_out(reply, patterns=("devices/{thing}/cmd",), publish=lambda t, _p: sent.append(t))
    assert outcome.status == "refused" and sent == []


def test_allowed_topic_is_published_and_iam_resources_use_wildcards() -> None:
    sent: list[tuple[str, bytes]] = []
    reply = Reply(
        message_id="m",
        conversation_id="c",
        actions=[Action(type="publish", params={"channel": "mqtt", "topic": "devices/lamp-1/cmd", "text": "on"})],
    )
    (outcome,) = carry_out(reply, patterns=("devices/{thing}/cmd",), publish=lambda t, p: sent.append((t, p)))
    assert outcome.status == "published" and sent[0][0] == "devices/lamp-1/cmd" and b'"text":"on"' in sent[0][1]
    assert TopicAllowList(["devices/{thing}/cmd", "a/b"]).iam_resources() == ["devices/*/cmd", "a/b"]


def test_a_failed_publish_does_not_fail_the_turn() -> None:
    def broken(_topic: str, _payload: bytes) -> None:
        raise ConnectionError("iot-data down")

    reply = Reply(
        message_id="m",
        conversation_id="c",
        actions=[Action(type="publish", params={"channel": "mqtt", "topic": "a/b"})],
    )
    assert [o.status for o in carry_out(reply, patterns=("a/b",), publish=broken)] == ["failed"]
