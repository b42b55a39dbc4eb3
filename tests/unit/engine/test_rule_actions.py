"""Every rule action, as a user of the bot sees it in the reply."""

from __future__ import annotations

from .helpers import BASE, ScriptedNlu, make_engine, say

BOT = (
    BASE.replace("{mode: hybrid}", '{mode: hybrid, publish_topics: ["devices/{thing}/cmd"]}')
    + """
intents:
  greet: {examples: [hi]}
slots:
  size: {values: [small, large]}
  name: {}
responses:
  size_is: ["Size: {slots.size|none}"]
  bye: ["Bye {slots.name|friend}"]
  handoff: ["A person will take over."]
  kitchen: ["Order for {sender}"]
rules:
  - name: reply
    when: text == "reply"
    then: [{reply: hello}]
  - name: set
    when: text == "set"
    then: [{set_slot: {size: LARGE, name: "{sender}"}}, {reply: size_is}]
  - name: set_invalid
    when: text == "set invalid"
    then: [{set_slot: {size: huge}}, {reply: size_is}]
  - name: clear
    when: text == "clear"
    then: [{clear_slot: [size, name]}, {reply: bye}]
  - name: classify
    when: text == "classify"
    then: [{classify: true}]
    stop: false
  - name: after_classify
    when: intent == "greet"
    then: [{reply: hello}]
  - name: handoff
    when: text == "human"
    then: [{handoff: {queue: billing, response: handoff, note: "{sender} wants help"}}]
  - name: reject
    when: text.contains("badword")
    then: [{reject: {reason: "Please keep it polite, {sender}."}}, {reply: hello}]
  - name: publish
    when: text == "publish"
    then:
      - publish: {channel: mqtt, topic: "devices/{sender}/cmd", response: kitchen, payload: {kind: order}}
  - name: two_rules_first
    when: text == "both"
    then: [{set_slot: {name: Ann}}]
    stop: false
  - name: two_rules_second
    when: text == "both" && slots.name == "Ann"
    then: [{reply: bye}]
"""
)


def test_reply_sends_the_response_text(tmp_path):
    reply = say(make_engine(tmp_path, BOT, nlu=ScriptedNlu({})), "reply")
    assert reply.texts == ["Hello!"]
    assert reply.trace == ["reply"]


def test_set_slot_stores_typed_values_and_templates_see_them(tmp_path):
    reply = say(make_engine(tmp_path, BOT, nlu=ScriptedNlu({})), "set", sender="zoe")
    assert reply.slots == {"size": "large", "name": "zoe"}
    assert reply.texts == ["Size: large"]


def test_set_slot_with_a_value_outside_the_allowed_ones_leaves_the_slot_empty(tmp_path):
    reply = say(make_engine(tmp_path, BOT, nlu=ScriptedNlu({})), "set invalid")
    assert reply.slots == {}
    assert reply.texts == ["Size: none"]


def test_slots_persist_across_turns_until_cleared(tmp_path):
    engine = make_engine(tmp_path, BOT, nlu=ScriptedNlu({}))
    say(engine, "set", sender="zoe")
    assert say(engine, "reply", sender="zoe").slots == {"size": "large", "name": "zoe"}
    cleared = say(engine, "clear", sender="zoe")
    assert cleared.slots == {}
    assert cleared.texts == ["Bye friend"]


def test_classify_runs_nlu_so_later_rules_can_use_the_intent(tmp_path):
    nlu = ScriptedNlu({"classify": ("greet", 0.9)})
    reply = say(make_engine(tmp_path, BOT.replace("mode: hybrid", "mode: rules"), nlu=nlu), "classify")
    assert reply.trace == ["classify", "after_classify"]
    assert reply.intent == "greet"
    assert reply.confidence == 0.9


def test_handoff_is_returned_as_an_action_with_its_response(tmp_path):
    reply = say(make_engine(tmp_path, BOT, nlu=ScriptedNlu({})), "human", sender="ann")
    assert reply.texts == ["A person will take over."]
    assert [(a.type, a.params) for a in reply.actions] == [("handoff", {"queue": "billing", "note": "ann wants help"})]


def test_reject_replies_with_the_reason_and_stops_the_rule(tmp_path):
    reply = say(make_engine(tmp_path, BOT, nlu=ScriptedNlu({})), "you badword", sender="ann")
    assert reply.texts == ["Please keep it polite, ann."]
    assert [(a.type, a.params) for a in reply.actions] == [("reject", {"reason": "Please keep it polite, ann."})]


def test_publish_is_returned_as_an_action_for_the_channel_to_perform(tmp_path):
    reply = say(make_engine(tmp_path, BOT, nlu=ScriptedNlu({})), "publish", sender="dev1")
    assert reply.texts == []
    [action] = reply.actions
    assert action.type == "publish"
    assert action.params == {
        "channel": "mqtt",
        "topic": "devices/dev1/cmd",
        "text": "Order for dev1",
        "payload": {"kind": "order"},
    }


def test_a_rule_without_stop_lets_later_rules_see_its_changes(tmp_path):
    reply = say(make_engine(tmp_path, BOT, nlu=ScriptedNlu({})), "both")
    assert reply.trace == ["two_rules_first", "two_rules_second"]
    assert reply.texts == ["Bye Ann"]


def test_priority_decides_which_rule_answers(tmp_path):
    bot = (
        BASE
        + """
responses:
  low: [low]
  high: [high]
rules:
  - {name: low, when: "true", then: [{reply: low}]}
  - {name: high, priority: 5, when: "true", then: [{reply: high}]}
"""
    )
    assert say(make_engine(tmp_path, bot, nlu=ScriptedNlu({})), "x").texts == ["high"]


def test_no_matching_rule_answers_with_the_fallback(tmp_path):
    reply = say(make_engine(tmp_path, BOT, nlu=ScriptedNlu({})), "something else")
    assert reply.texts == ["Sorry?"]
    assert reply.trace == ["fallback"]


def test_rules_can_use_channel_time_and_conversation_context(tmp_path):
    bot = (
        BASE
        + """
responses:
  device: [device]
  morning: [morning]
  again: [again]
rules:
  - {name: device, when: 'channel == "mqtt"', then: [{reply: device}]}
  - {name: again, when: 'turn_count > 0 && turns[size(turns) - 1].user == text', then: [{reply: again}]}
  - {name: morning, when: 'hour < 12 && weekday == 5', then: [{reply: morning}]}
"""
    )
    engine = make_engine(tmp_path, bot, nlu=ScriptedNlu({}))
    assert say(engine, "hi", channel="mqtt", conversation="a").texts == ["device"]
    assert say(engine, "hi", conversation="b").texts == ["morning"]
    assert say(engine, "hi", conversation="b").texts == ["again"]


def test_matches_uses_the_regex_and_does_not_need_nlu(tmp_path):
    bot = (
        BASE
        + """
rules:
  - {name: order_no, when: 'text.matches("^#[0-9]{4}$")', then: [{reply: hello}]}
"""
    )
    nlu = ScriptedNlu({})
    engine = make_engine(tmp_path, bot, nlu=nlu)
    assert say(engine, "#1234").trace == ["order_no"]
    assert say(engine, "#12345").trace != ["order_no"]
    assert nlu.calls == ["#12345"]  # only the fallback needed NLU


def test_handoff_true_uses_the_default_queue(tmp_path):
    bot = (
        BASE
        + """
rules:
  - {name: human, when: "true", then: [{handoff: true}]}
"""
    )
    reply = say(make_engine(tmp_path, bot, nlu=ScriptedNlu({})), "help")
    assert [(a.type, a.params) for a in reply.actions] == [("handoff", {"queue": "human"})]
    assert reply.texts == []
