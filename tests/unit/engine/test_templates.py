"""Response templates: dotted variables with defaults, literal braces, nothing evaluated."""

from __future__ import annotations

import pytest

from clawline.templates import TemplateError, parse


def test_placeholders_are_filled_from_nested_variables():
    template = parse("Your {slots.size} pizza, {sender}!")
    assert template.render({"slots": {"size": "large"}, "sender": "ann"}) == "Your large pizza, ann!"


def test_a_missing_value_uses_the_default_or_nothing():
    assert parse("Hi {slots.name|friend}").render({"slots": {}}) == "Hi friend"
    assert parse("Hi {slots.name}.").render({"slots": {}}) == "Hi ."


def test_numbers_and_booleans_render_for_people():
    template = parse("{slots.n} {slots.ok}")
    assert template.render({"slots": {"n": 2.0, "ok": True}}) == "2 yes"


def test_double_braces_are_literal():
    assert parse("{{not a var}} {text}").render({"text": "x"}) == "{not a var} x"


@pytest.mark.parametrize("source", ["{__class__}", "{text!r}", "{text:>10}", "oops {", "{text.upper()}"])
def test_templates_cannot_reach_into_python_objects(source):
    with pytest.raises(TemplateError):
        parse(source).render({"text": "x", "slots": {}})


def test_an_attribute_path_does_not_read_object_attributes():
    class Secret:
        token = "s3cr3t"

    assert parse("{slots.token}").render({"slots": Secret()}) == ""
    assert parse("{slots.__class__.__mro__}").render({"slots": {}}) == ""


def test_responses_can_quote_the_recent_turns(tmp_path):
    from .helpers import BASE, ScriptedNlu, make_engine, say

    bot = (
        BASE
        + """
responses:
  echo: ['Last time you said "{turns.0.user|nothing}"']
rules:
  - {name: echo, when: "true", then: [{reply: echo}]}
"""
    )
    engine = make_engine(tmp_path, bot, nlu=ScriptedNlu({}))
    assert say(engine, "first").texts == ['Last time you said "nothing"']
    assert say(engine, "second").texts == ['Last time you said "first"']
