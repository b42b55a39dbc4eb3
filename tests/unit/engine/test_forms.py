"""Multi-turn forms: a rule that requires slots asks for the missing ones, then runs."""

from __future__ import annotations

from .helpers import BASE, ScriptedNlu, make_engine, say

BOT = (
    BASE
    + """
intents:
  order: {examples: [order]}
  help: {examples: [help]}
  cancel: {examples: [cancel]}
entities:
  size: {lookup: [small, large]}
  kind: {lookup: [margherita, pepperoni]}
slots:
  kind: {entity: kind, values: [margherita, pepperoni], ask: ask_kind, invalid: bad_kind}
  size: {entity: size, values: [small, large], ask: ask_size}
  count: {type: number, ask: ask_count}
  address: {from_text: true, ask: ask_address}
responses:
  ask_kind: ["Which pizza?"]
  bad_kind: ["We only have margherita and pepperoni."]
  ask_size: ["Which size?"]
  ask_count: ["How many?"]
  ask_address: ["Where to?"]
  done: ["{slots.count} {slots.size} {slots.kind} to {slots.address}"]
  help: ["I take orders."]
  cancelled: ["Cancelled."]
rules:
  - name: order
    when: intent == "order"
    require: [kind, size, count, address]
    then: [{reply: done}, {clear_slot: [kind, size, count, address]}]
  - name: help
    interrupt: true
    when: intent == "help"
    then: [{reply: help}]
  - name: cancel
    interrupt: true
    when: form == "order" && intent == "cancel"
    then: [{end_form: true}, {reply: cancelled}]
"""
)
TABLE = {
    "order": ("order", 0.9),
    "i want a large pepperoni": ("order", 0.9, {"size": "large", "kind": "pepperoni"}),
    "large": (None, 0.2, {"size": "large"}),
    "margherita": (None, 0.2, {"kind": "margherita"}),
    "hawaiian": (None, 0.2, {"kind": "hawaiian"}),
    "help": ("help", 0.9),
    "cancel": ("cancel", 0.9),
}


def test_form_asks_for_each_missing_slot_then_runs_the_rule(tmp_path):
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu(TABLE))
    assert say(engine, "order").texts == ["Which pizza?"]
    assert say(engine, "margherita").texts == ["Which size?"]
    assert say(engine, "large").texts == ["How many?"]
    assert say(engine, "two, no 3 please").texts == ["Where to?"]
    done = say(engine, "1 Main Street")
    assert done.texts == ["3 large margherita to 1 Main Street"]
    assert done.slots == {}
    assert done.trace == ["form:order", "order"]


def test_slots_in_the_first_message_are_not_asked_again(tmp_path):
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu(TABLE))
    reply = say(engine, "i want a large pepperoni")
    assert reply.slots == {"size": "large", "kind": "pepperoni"}
    assert reply.texts == ["How many?"]


def test_a_value_outside_the_allowed_ones_gets_the_invalid_response(tmp_path):
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu(TABLE))
    say(engine, "order")
    assert say(engine, "hawaiian").texts == ["We only have margherita and pepperoni."]
    assert say(engine, "margherita").texts == ["Which size?"]
    # `size` has no `invalid` response: an answer that fills nothing gets the question again.
    assert say(engine, "something unrelated").texts == ["Which size?"]


def test_an_interrupting_rule_answers_then_the_form_asks_again(tmp_path):
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu(TABLE))
    say(engine, "order")
    reply = say(engine, "help")
    assert reply.texts == ["I take orders.", "Which pizza?"]
    assert say(engine, "margherita").texts == ["Which size?"]


def test_cancel_ends_the_form(tmp_path):
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu(TABLE))
    say(engine, "order")
    assert say(engine, "cancel").texts == ["Cancelled."]
    assert say(engine, "margherita").texts == ["Sorry?"]


def test_a_from_text_slot_takes_the_whole_answer_only_when_asked(tmp_path):
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu(TABLE))
    say(engine, "i want a large pepperoni")
    reply = say(engine, "4")
    assert reply.slots == {"size": "large", "kind": "pepperoni", "count": 4}
    assert "address" not in reply.slots


def test_form_state_belongs_to_one_conversation(tmp_path):
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu(TABLE))
    say(engine, "order", conversation="one")
    assert say(engine, "margherita", conversation="two").texts == ["Sorry?"]
    assert say(engine, "margherita", conversation="one").texts == ["Which size?"]


ORDER_BY_INTENT = (
    BASE
    + """
intents:
  order: {examples: [i want to order]}
  affirm: {examples: [go ahead]}
  greet: {examples: [hello]}
slots:
  qty: {type: number, ask: ask_qty}
  ok: {type: bool, ask: ask_ok}
responses:
  ask_qty: ["How many?"]
  ask_ok: ["Shall I place it?"]
  done: ["Order placed."]
rules:
  - name: confirm_by_intent
    interrupt: true
    when: 'form == "order" && has(slots.qty) && intent == "affirm"'
    then: [{set_slot: {ok: true}}]
  - {name: order, when: intent == "order", require: [qty, ok], then: [{reply: done}]}
"""
)


def test_a_form_completed_by_an_interrupting_rule_replies_in_that_turn_and_is_over(tmp_path):
    table = {"i want to order": ("order", 0.9), "go ahead": ("affirm", 0.9), "hello": ("greet", 0.9)}
    engine = make_engine(tmp_path, ORDER_BY_INTENT, nlu=ScriptedNlu(table))
    assert say(engine, "i want to order").texts == ["How many?"]
    assert say(engine, "3").texts == ["Shall I place it?"]
    done = say(engine, "go ahead")
    assert done.texts == ["Order placed."]
    assert done.trace == ["confirm_by_intent", "order"]
    # The form is over: an unrelated message is not an order.
    assert say(engine, "hello").texts == ["Sorry?"]


def test_a_number_slot_reads_thousands_separators_by_the_bot_language(tmp_path):
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu(TABLE))
    for text in ("order", "margherita", "large"):
        say(engine, text)
    assert say(engine, "$1,250").slots["count"] == 1250
    german_bot = BOT.replace("settings: {mode: hybrid}", "settings: {mode: hybrid, language: de}")
    german = make_engine(tmp_path / "de", german_bot, nlu=ScriptedNlu(TABLE))
    for text in ("order", "margherita", "large"):
        say(german, text)
    assert say(german, "1.250,5 Stück").slots["count"] == 1250.5
