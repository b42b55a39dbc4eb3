"""The FAQ plugin answers from Markdown and CSV knowledge bases, cites the source, and stays silent below its
threshold so the rule's fallback answers."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.engine.helpers import make_engine, say

FAQ_MD = """
# Help centre

## How do I reset my password?
Open Settings, choose Security, then "Reset password". A link arrives by e-mail within five minutes.

## What are your opening hours?
We answer from 9:00 to 18:00, Monday to Friday.

## Do you ship abroad?
Yes: to every EU country, in 3 to 5 working days.
"""
POLICIES_CSV = """question,answer,source
Can I return an item?,You can return any item within 30 days for a full refund.,https://example.com/returns
How much is delivery?,Delivery is free above 50 euros.,
"""
KB: dict[str, Any] = {"faq.md": FAQ_MD, "policies.csv": POLICIES_CSV}
BOT = """
name: helpdesk
plugins:
  - {module: plugins.faq, class: FaqPlugin, config: {files: [faq.md, policies.csv], threshold: 1.5}}
rules:
  - name: faq_first
    when: "true"
    then: [{plugin: faq}, {reply: unknown}]
responses:
  unknown: ["I don't know that one yet."]
"""


@pytest.fixture
def engine(tmp_path):
    return make_engine(tmp_path / "bot", BOT, **KB)


def test_a_markdown_answer_is_found_and_cites_its_heading(engine):
    reply = say(engine, "I forgot my password, how can I reset it?")
    assert reply.texts == [
        'Open Settings, choose Security, then "Reset password". A link arrives by e-mail within five minutes.'
        "\n\nSource: faq.md#how-do-i-reset-my-password"
    ]


def test_a_csv_answer_cites_its_source_column_or_its_line(engine):
    assert say(engine, "can I return an item I bought?").texts[0].endswith("Source: https://example.com/returns")
    assert say(engine, "how much does delivery cost").texts[0].endswith("Source: policies.csv:3")


def test_below_the_threshold_the_rule_goes_on_to_its_fallback(engine):
    assert say(engine, "tell me a joke about penguins").texts == ["I don't know that one yet."]


def test_plugin_data_carries_the_match(tmp_path):
    text = BOT.replace("then: [{plugin: faq}, {reply: unknown}]", "then: [{plugin: faq}]\n    stop: false")
    text = text.replace("rules:\n", "rules:\n  - {name: shown, when: 'has(plugins.faq)', then: [], stop: false}\n")
    engine = make_engine(tmp_path / "bot", text, **KB)
    reply = say(engine, "do you ship abroad")
    assert reply.texts[0].startswith("Yes: to every EU country")


EMPTY: dict[str, Any] = {"faq.md": "# nothing here\n", "policies.csv": "question,answer\n"}


def test_a_knowledge_base_without_pairs_makes_the_plugin_unavailable(tmp_path):
    engine = make_engine(tmp_path / "bot", BOT, **EMPTY)
    assert say(engine, "do you ship abroad").texts == ["Sorry?"]
