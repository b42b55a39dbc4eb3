"""Validation catches what bot authors get wrong: names that do not exist, with a "did you mean"."""

from __future__ import annotations

from pathlib import Path

import pytest

from clawline.bot.compiled import Bot
from clawline.bot.loader import BotDefinitionError

from .helpers import BASE, write_bot

BOT = (
    BASE
    + """
intents:
  greet: {examples: [hi, hello]}
  order_status: {examples: [where is my order]}
entities:
  order_id: {regex: ['\\b[A-Z]{2}\\d{4}\\b']}
slots:
  contact: {entity: email, ask: hello}
  order: {entity: order_id, ask: hello}
rules:
  - name: greet
    when: >-
      WHEN
    then: [{reply: hello}]
"""
)


def errors(tmp_path: Path, when: str) -> list[str]:
    with pytest.raises(BotDefinitionError) as info:
        Bot.load(write_bot(tmp_path, BOT.replace("WHEN", when)))
    return [str(p) for p in info.value.problems]


def test_a_rule_naming_an_undefined_intent_is_an_error_with_a_suggestion(tmp_path):
    [problem] = errors(tmp_path, "intent == 'gret'")
    assert "rules[0].when: unknown intent 'gret' (did you mean 'greet'?)" in problem
    assert problem.startswith(f"{tmp_path / 'bot.yaml'}:")


@pytest.mark.parametrize(
    "when",
    [
        'intent in ["greet", "order_stauts"]',
        '"order_stauts" == intent',
        'message.intent != "order_stauts" && true',
        '"order_stauts" in last_intents',
        'last_intent == "order_stauts" || intent == "greet"',
    ],
)
def test_every_literal_intent_form_is_checked(tmp_path, when):
    [problem] = errors(tmp_path, when)
    assert "unknown intent 'order_stauts' (did you mean 'order_status'?)" in problem


def test_undefined_slots_and_entities_in_a_condition_are_errors(tmp_path):
    problems = errors(tmp_path, 'has(slots.contct) && entities.order_idd == "x" && has(entities.emial)')
    assert any("unknown slot 'contct' (did you mean 'contact'?)" in p for p in problems)
    assert any("unknown entity 'order_idd' (did you mean 'order_id'?)" in p for p in problems)
    assert any("unknown entity 'emial' (did you mean 'email'?)" in p for p in problems)


def test_names_inside_string_literals_are_not_references(tmp_path):
    bot = Bot.load(write_bot(tmp_path, BOT.replace("WHEN", "text == \"intent == 'nope' slots.x entities.y\"")))
    assert [r.name for r in bot.rules.ordered] == ["greet"]


def test_defined_and_builtin_names_validate(tmp_path):
    when = 'intent in ["greet", "order_status"] && has(entities.email) && has(slots.order) && has(entities.number)'
    bot = Bot.load(write_bot(tmp_path, BOT.replace("WHEN", when)))
    assert bot.definition.slots["contact"].entity == "email"


def test_a_slot_with_an_unknown_entity_lists_the_builtins(tmp_path):
    with pytest.raises(BotDefinitionError) as info:
        Bot.load(write_bot(tmp_path, BOT.replace("entity: email", "entity: emails").replace("WHEN", "true")))
    assert "slots.contact.entity: unknown entity 'emails' (did you mean 'email'?)" in str(info.value)
    assert "built-in one (date, email, money, number, phone, time, url)" in str(info.value)


def test_a_template_naming_an_unknown_entity_is_an_error(tmp_path):
    text = BOT.replace("WHEN", "true").replace("{reply: hello}", '{set_slot: {order: "{entities.ordr_id}"}}')
    with pytest.raises(BotDefinitionError) as info:
        Bot.load(write_bot(tmp_path, text))
    assert "unknown entity 'ordr_id' in template (did you mean 'order_id'?)" in str(info.value)


def test_an_unknown_nested_field_lists_the_allowed_fields(tmp_path):
    text = BOT.replace("WHEN", "true").replace("contact: {entity: email,", "contact: {entitiy: email,")
    with pytest.raises(BotDefinitionError) as info:
        Bot.load(write_bot(tmp_path, text))
    [problem] = info.value.problems
    assert problem.field == "slots.contact.entitiy"
    allowed = problem.message.removeprefix("unknown field (allowed: ").split(";")[0].split(", ")
    assert problem.message.startswith("unknown field (allowed: ")
    # Every field a slot accepts is listed, in order, and the typo is not.
    assert {"ask", "entity", "from_text", "type", "values"} <= set(allowed) and "entitiy" not in allowed
    assert allowed == sorted(allowed)
    assert "did you mean 'entity'?" in problem.message


def test_a_plugin_module_that_is_nowhere_names_where_it_was_looked_for(tmp_path):
    text = BOT.replace("WHEN", "true") + 'plugins:\n  - {module: "ticketing_nowhere", class: "Ticketing"}\n'
    with pytest.raises(BotDefinitionError) as info:
        Bot.load(write_bot(tmp_path, text))
    message = str(info.value)
    assert "module 'ticketing_nowhere' not found" in message
    assert f"{tmp_path.resolve() / 'ticketing_nowhere'}.py" in message
    assert "Python path" in message
