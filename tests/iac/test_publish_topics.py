"""The message functions may publish only to the bot's ``settings.publish_topics`` (plus reply topics)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clawline.bot.compiled import Bot
from clawline.topics import TopicAllowList
from tests.iac.test_translated_template import MESSAGE_FUNCTIONS, function_role, referenced

pytestmark = pytest.mark.iac

ROOT = Path(__file__).resolve().parents[2]


def test_publish_policy_covers_the_default_bot_and_is_on_every_message_function(
    cfn: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    default = cfn["Parameters"]["PublishTopics"]["Default"]
    defaults = default.split(",") if isinstance(default, str) else list(default)
    bot = Bot.load(ROOT / "bots" / "default", load_plugins=False)
    wanted = TopicAllowList(bot.settings.publish_topics).iam_resources()
    assert wanted and set(wanted) <= set(defaults), "deploying the default bot would deny its publishes"
    policy = resources["PublishTopicsPolicy"]["Properties"]
    roles = set().union(*(referenced(r) for r in policy["Roles"]))
    assert roles == {function_role(resources, f) for f in MESSAGE_FUNCTIONS}
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "iot:Publish"
    # One ARN per listed topic (no wildcard beyond what the list says): each resource is topic/<the i-th item>.
    assert all("topic/${T}" in str(r) for r in statement["Resource"])
