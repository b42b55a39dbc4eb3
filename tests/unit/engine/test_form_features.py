"""Form features with a scripted NLU (what the user types -> intent and entities): slot validation, cross-slot
checks, entity roles, corrections, confirmation, bool slots from intents, and the load-time checks of them."""

from __future__ import annotations

import pytest

from clawline.bot.compiled import Bot
from clawline.bot.keyword_nlu import KeywordBackend
from clawline.bot.loader import BotDefinitionError
from clawline.messages import Entity
from clawline.nlu.types import NluResult
from clawline.roles import RoleCues

from .helpers import BASE, FIXED_NOW, ScriptedNlu, make_engine, say, write_bot

BOT = (
    BASE
    + """
intents:
  pay: {examples: [pay someone]}
  affirm: {examples: [go ahead]}
  deny: {examples: [hold on]}
  correct: {examples: [correction please]}
slots:
  limit: {type: number}
  amount: {type: number, min: 1, max: 500, valid: "value <= slots.limit", ask: ask_amount, invalid: bad_amount}
  code: {pattern: "[A-Z]{3}-[0-9]{2}", from_text: true, ask: ask_code, invalid: bad_code}
  speed: {type: number, choices: [1, 2, 5], ask: ask_speed}
  payee: {from_text: true, ask: ask_payee}
  sms: {type: bool, ask: ask_sms}
responses:
  ask_amount: ["Amount?"]
  bad_amount: ["1 to {slots.limit}, please."]
  ask_code: ["Code?"]
  bad_code: ["A code looks like ABC-12."]
  ask_speed: ["Speed?"]
  ask_payee: ["Payee?"]
  ask_sms: ["Text you?"]
  same: ["Payee and code must differ."]
  confirm: ["Pay {slots.amount} to {slots.payee}?"]
  change: ["Change what?"]
  dropped: ["Dropped."]
  paid: ["Paid {slots.amount} to {slots.payee} (sms {slots.sms})."]
rules:
  - {name: limit, priority: 9, when: "!has(slots.limit)", stop: false, then: [{set_slot: {limit: 300}}]}
  - name: pay
    when: intent == "pay"
    require: [amount, code, speed, payee, sms]
    checks: [{valid: "slots.payee != slots.code", invalid: same, clear: [payee]}]
    confirm: confirm
    change: change
    cancelled: dropped
    then: [{reply: paid}, {clear_slot: [amount, code, speed, payee, sms]}]
"""
)
TABLE = {"pay someone": ("pay", 0.9), "go ahead": ("affirm", 0.9), "hold on": ("deny", 0.9)}


def _engine(tmp_path, table=TABLE):
    return make_engine(tmp_path, BOT, nlu=ScriptedNlu(table))


def _to_confirmation(engine):
    for text in ("pay someone", "250", "ABC-12", "5", "Ann"):
        say(engine, text)
    assert say(engine, "go ahead").texts == ["Pay 250 to Ann?"]


def test_min_max_pattern_choices_and_the_cel_condition_refuse_bad_values(tmp_path):
    engine = _engine(tmp_path)
    assert say(engine, "pay someone").texts == ["Amount?"]
    assert say(engine, "0").texts == ["1 to 300, please."]  # min
    assert say(engine, "501").texts == ["1 to 300, please."]  # max
    assert say(engine, "301").texts == ["1 to 300, please."]  # valid: value <= slots.limit
    assert say(engine, "1,250").texts == ["1 to 300, please."]  # 1250, not 1.25
    assert say(engine, "250").texts == ["Code?"]
    assert say(engine, "abc-12").texts == ["A code looks like ABC-12."]  # pattern (whole value)
    assert say(engine, "ABC-12").texts == ["Speed?"]
    assert say(engine, "3").texts == ["Speed?"]  # not a choice
    reply = say(engine, "5")
    assert reply.texts == ["Payee?"]
    assert reply.slots["amount"] == 250 and reply.slots["code"] == "ABC-12" and reply.slots["speed"] == 5


def test_a_bot_loaded_prebuilt_checks_values_and_forms_like_its_yaml(tmp_path):
    # The prebuilt definition carries its conditions' CEL sources, compiled on first use: the `valid` condition,
    # the form's check and the rule that is not a plain guard (`!has(...)`) must decide as they do from the YAML.
    from clawline.bot import prebuilt
    from clawline.engine import Engine
    from clawline.rules.cel import DeferredProgram
    from clawline.store.memory import InMemoryConversationStore

    bot_dir = write_bot(tmp_path / "bot", BOT)
    prebuilt.write(bot_dir)
    assert prebuilt.read(bot_dir) is not None
    bot = prebuilt.load_bot(bot_dir)
    assert all(isinstance(r.program, DeferredProgram) for r in bot.rules.ordered)
    engine = Engine(bot, InMemoryConversationStore(), nlu=ScriptedNlu(TABLE), clock=lambda: FIXED_NOW)
    assert say(engine, "pay someone").texts == ["Amount?"]
    assert say(engine, "301").texts == ["1 to 300, please."]  # valid: value <= slots.limit
    for text, asked in (("250", "Code?"), ("ABC-12", "Speed?"), ("5", "Payee?")):
        assert say(engine, text).texts == [asked]
    reply = say(engine, "ABC-12")  # check: slots.payee != slots.code
    assert reply.texts == ["Payee and code must differ.", "Payee?"]


def test_a_cross_slot_check_clears_the_named_slot_and_asks_again(tmp_path):
    engine = _engine(tmp_path)
    for text in ("pay someone", "250", "ABC-12", "5"):
        say(engine, text)
    reply = say(engine, "ABC-12")
    assert reply.texts == ["Payee and code must differ.", "Payee?"]
    assert "payee" not in reply.slots
    assert say(engine, "Ann").texts == ["Text you?"]


def test_bool_slots_take_the_affirm_and_deny_intents(tmp_path):
    engine = _engine(tmp_path)
    for text in ("pay someone", "250", "ABC-12", "5", "Ann"):
        say(engine, text)
    assert say(engine, "hold on").slots["sms"] is False


def test_confirmation_yes_runs_the_form_and_no_offers_a_change_or_cancel(tmp_path):
    engine = _engine(tmp_path)
    _to_confirmation(engine)
    assert say(engine, "maybe").texts == ["Pay 250 to Ann?"]  # neither: asked again
    done = say(engine, "yes")
    assert done.texts == ["Paid 250 to Ann (sms yes)."]
    assert done.trace == ["form:pay", "confirmed", "pay"]
    engine = _engine(tmp_path / "2")
    _to_confirmation(engine)
    assert say(engine, "hold on").texts == ["Change what?"]  # the deny intent
    assert say(engine, "the payee").texts == ["Payee?"]
    assert say(engine, "Bob").texts == ["Pay 250 to Bob?"]
    assert say(engine, "no").texts == ["Change what?"]
    dropped = say(engine, "no")
    assert dropped.texts == ["Dropped."]
    assert dropped.slots == {"limit": 300}
    assert say(engine, "yes").texts == ["Sorry?"]  # the form is over


def test_a_correction_changes_the_slot_it_names_or_the_last_one_that_takes_the_value(tmp_path):
    engine = _engine(tmp_path)
    _to_confirmation(engine)
    reply = say(engine, "actually make it 120")
    assert reply.texts == ["Pay 120 to Ann?"]
    assert "corrected:amount" in reply.trace
    engine = _engine(tmp_path / "2")
    for text in ("pay someone", "250", "ABC-12"):
        say(engine, text)
    # Mid-form: the amount changes and the pending slot is asked again.
    reply = say(engine, "I meant 200")
    assert (reply.texts, reply.slots["amount"]) == (["Speed?"], 200)
    # A correction that breaks validation changes nothing.
    assert say(engine, "actually 900").slots["amount"] == 200


ROLES_BOT = (
    BASE
    + """
intents:
  move:
    examples:
      - move money
      - 'take it out of [savings]{"entity": "account", "role": "source"}'
entities:
  account: {lookup: [checking, savings]}
slots:
  source: {entity: account, role: source, ask: ask_source}
  target: {entity: account, role: to, ask: ask_target}
responses:
  ask_source: ["From?"]
  ask_target: ["To?"]
  moved: ["{slots.source} -> {slots.target}"]
rules:
  - {name: move, when: intent == "move", require: [source, target], then: [{reply: moved}]}
"""
)


class _MoveNlu:
    """Intent by keyword; entities (with real spans) from the keyword backend's lookup tables."""

    def __init__(self, backend: KeywordBackend) -> None:
        self.backend = backend

    def parse(self, text: str) -> NluResult:
        intent = "move" if text.startswith("move") else None
        return NluResult(intent=intent, confidence=0.9 if intent else 0.1, entities=self.backend.entities(text))


def test_entity_roles_come_from_annotated_examples_and_from_the_role_word(tmp_path):
    bot = Bot.load(write_bot(tmp_path / "bot", ROLES_BOT))
    engine = make_engine(tmp_path, ROLES_BOT, nlu=_MoveNlu(KeywordBackend({}, bot.definition.entities)))
    # "out of" precedes the annotated source in an example; "to" is the role's own name.
    assert say(engine, "move money to checking out of savings").texts == ["savings -> checking"]
    assert say(engine, "move money", conversation="c2").texts == ["From?"]
    assert say(engine, "savings", conversation="c2").texts == ["To?"]


def test_role_cues_ignore_values_in_other_roles():
    cues = RoleCues.from_intents({"x": ['from [a]{"entity": "acct", "role": "from"}']})
    text = "to savings"
    assert cues.role_of(Entity(entity="acct", value="savings", text="savings", start=3, end=10), text) == "to"


@pytest.mark.parametrize(
    ("slot", "message"),
    [
        ("{min: 1, ask: ask}", "`min` applies to number slots"),
        ("{type: number, min: 5, max: 1, ask: ask}", "min 5 is greater than max 1"),
        ('{type: number, valid: "value > limit", ask: ask}', "unknown variable(s) limit"),
        ('{type: number, valid: "value >", ask: ask}', "invalid CEL expression"),
        ("{role: from, ask: ask}", "set `entity` too"),
        ('{pattern: "[a-", ask: ask}', "invalid regular expression"),
        ('{pattern: "(a+)+$", ask: ask}', "nests quantifiers"),
    ],
)
def test_bad_slot_validation_is_reported_at_load(tmp_path, slot, message):
    text = BASE + f"slots:\n  s: {slot}\nresponses:\n  ask: [a]\n"
    with pytest.raises(BotDefinitionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Bot.load(write_bot(tmp_path, text))


def test_form_fields_on_a_rule_without_require_and_unknown_responses_are_reported(tmp_path):
    text = (
        BASE + "responses:\n  ok: [ok]\nrules:\n  - {name: r, confirm: ok, checks: [{valid: 'true', invalid: nope}]}\n"
    )
    with pytest.raises(BotDefinitionError) as caught:
        Bot.load(write_bot(tmp_path, text))
    message = str(caught.value)
    assert "`confirm` belongs to a form" in message
    assert "`checks` belong to a form" in message
    assert "unknown response 'nope'" in message
