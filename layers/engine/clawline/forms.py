"""Forms: a rule with ``require`` asks for its missing slots over several turns, checks them, optionally asks
the user to confirm, then runs its ``then``.

One form turn::

    interrupting rules? -> [awaiting confirmation: yes / no / correction] -> [choosing a slot to change]
    -> correction of a filled slot? -> fill the pending slot -> all filled: checks -> confirm? -> then

The form's progress lives in the conversation state: ``active_form`` (the rule) and ``form_step`` (None while
filling, ``"confirm"`` while waiting for yes/no, ``"change"`` after a "no" while waiting for the slot to change).
Every turn of a form that has all its slots ends in a reply: the checks' ``invalid``, the confirmation, or the
rule's own ``then`` (an interrupting rule that fills the last slot completes the form in the same turn).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from clawline import slots as slot_values
from clawline.bot import models
from clawline.bot.models import SlotType
from clawline.messages import Entity
from clawline.observability import logger
from clawline.roles import RoleCues
from clawline.rules.compiler import CompiledRule

if TYPE_CHECKING:
    from clawline.engine import Engine, _Turn

CONFIRM = "confirm"
CHANGE = "change"
_WORD = re.compile(r"\w+")


class Forms:
    """The form logic of one engine (``Engine`` keeps the turn loop and the rules; this keeps the slots)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.bot = engine.bot
        self.slots = engine.bot.definition.slots
        self.settings = engine.bot.settings.forms
        self.language = engine.bot.settings.language

    @cached_property
    def _correction(self) -> re.Pattern[str] | None:
        """The correction pattern, compiled when a form first needs it (about 1 ms): a turn outside a form never
        does. The bot's validation has checked that it compiles (``FormSettings``)."""
        pattern = self.settings.correction_pattern
        return re.compile(pattern) if pattern else None

    @cached_property
    def roles(self) -> RoleCues:
        intents = self.bot.definition.intents
        return RoleCues.from_intents({n: models.every_language(i.examples) for n, i in intents.items()})

    # ----- entry points ---------------------------------------------------------------------------------------

    async def start(self, turn: _Turn, compiled: CompiledRule) -> None:
        """A form rule fired: take what the message gives, then ask for the rest or complete."""
        missing = self.fill(turn, compiled.rule.require)
        if missing and self.failed_check(turn, compiled):
            return
        if missing:
            turn.state.active_form = compiled.name
            turn.state.form_step = None
            self.ask(turn, missing[0])
            turn.stopped = True
            return
        await self.complete(turn, compiled)

    async def resume(self, turn: _Turn) -> bool:
        """The active form's turn; False when the form no longer exists (the message is handled as usual)."""
        state = turn.state
        compiled = self.bot.rules.by_name.get(state.active_form or "")
        if compiled is None or not compiled.rule.require:
            state.active_form = None  # the bot changed since the form started
            state.form_step = None
            return False
        form, require = compiled.name, compiled.rule.require
        if self.bot.rules.interrupting and await self.engine.scan(turn, self.bot.rules.interrupting):
            still_open = state.active_form == form and not any(a.type == "reject" for a in turn.actions)
            if state.active_form is None:
                state.form_step = None
            if still_open and not turn.stopped:
                pending = self.missing(turn, require)
                if pending:
                    self.ask(turn, pending[0])
                elif state.form_step == CONFIRM:
                    assert compiled.rule.confirm is not None
                    self.engine.say(turn, compiled.rule.confirm)
                else:
                    # The interrupting rule gave the last slot: the form completes now, not on the next message.
                    await self.complete(turn, compiled)
            return True
        turn.trace.append(f"form:{form}")
        if state.form_step == CONFIRM:
            await self._confirmation(turn, compiled)
        elif state.form_step == CHANGE:
            await self._change(turn, compiled)
        elif self._says_correction(turn) and self._correct(turn, compiled):
            await self._after_correction(turn, compiled)
        else:
            before = dict(state.slots)
            missing = self.fill(turn, require, pending=self.missing(turn, require)[:1])
            if state.slots == before and self._means_correction(turn) and self._correct(turn, compiled):
                # Only when the message gave nothing for the pending slot: a correction intent is a guess.
                await self._after_correction(turn, compiled)
            elif missing and state.slots != before and self.failed_check(turn, compiled):
                pass
            elif not missing:
                await self.complete(turn, compiled)
            else:
                # Nothing usable for the pending slot: say why (the slot's `invalid` response) when there is one.
                self.ask(turn, missing[0], invalid=state.slots == before)
        return True

    def failed_check(self, turn: _Turn, compiled: CompiledRule) -> bool:
        """Run the form's checks whose slots are all filled; on the first that fails say why, clear its slots and
        ask again (True). A check runs as soon as it can, so "accounts must differ" is said before the receipt."""
        rule, state = compiled.rule, turn.state
        for check in rule.checks:
            if not self.engine.conditions.slots_of(check.valid) <= {n for n, v in state.slots.items() if v is not None}:
                continue
            if self.engine.conditions.check(check.valid, None, state.slots):
                continue
            turn.trace.append(f"check_failed:{compiled.name}")
            cleared = check.clear or self._last_filled(turn, rule.require)[-1:]
            for name in cleared:
                state.slots.pop(name, None)
            turn.scope.invalidate("slots")
            state.active_form, state.form_step = compiled.name, None
            self.engine.say(turn, check.invalid)
            pending = self.missing(turn, rule.require)
            if pending:
                self.ask(turn, pending[0])
            turn.stopped = True
            return True
        return False

    async def complete(self, turn: _Turn, compiled: CompiledRule) -> None:
        """Every required slot is filled: run the checks, ask for confirmation if the form has one, else run."""
        rule, state = compiled.rule, turn.state
        if self.failed_check(turn, compiled):
            return
        if rule.confirm and state.form_step != CONFIRM:
            state.active_form, state.form_step = compiled.name, CONFIRM
            self.engine.say(turn, rule.confirm)
            turn.stopped = True
            return
        state.active_form, state.form_step = None, None
        turn.trace.append(compiled.name)
        await self.engine.run_actions(turn, rule)

    # ----- confirmation and changes ---------------------------------------------------------------------------

    async def _confirmation(self, turn: _Turn, compiled: CompiledRule) -> None:
        if self._is_correction(turn) and self._correct(turn, compiled):
            await self._after_correction(turn, compiled)
            return
        answer = self.yes_no(turn)
        if answer is True:
            turn.trace.append("confirmed")
            await self.complete(turn, compiled)
        elif answer is False:
            turn.trace.append("denied")
            if compiled.rule.change:
                turn.state.form_step = CHANGE
                self.engine.say(turn, compiled.rule.change)
            else:
                self.cancel(turn, compiled)
        else:
            assert compiled.rule.confirm is not None
            self.engine.say(turn, compiled.rule.confirm)
        turn.stopped = True

    async def _change(self, turn: _Turn, compiled: CompiledRule) -> None:
        """After "no": a slot's name (with a new value, or asked again), a new value, or no / cancel."""
        require = compiled.rule.require
        named = self._named_slot(turn.message.text, require)
        if named is not None and not self._correct(turn, compiled):
            turn.trace.append(f"change:{named}")
            turn.state.slots.pop(named, None)
            turn.scope.invalidate("slots")
            turn.state.form_step = None
            self.ask(turn, named)
        elif named is not None:
            await self._after_correction(turn, compiled)
        elif self.yes_no(turn) is False:
            self.cancel(turn, compiled)
        elif self._correct(turn, compiled):
            await self._after_correction(turn, compiled)
        else:
            assert compiled.rule.change is not None
            self.engine.say(turn, compiled.rule.change)
        turn.stopped = True

    async def _after_correction(self, turn: _Turn, compiled: CompiledRule) -> None:
        pending = self.missing(turn, compiled.rule.require)
        turn.state.form_step = None
        if pending and self.failed_check(turn, compiled):
            return
        if pending:
            self.ask(turn, pending[0])
            turn.stopped = True
        else:
            # Re-checked and, when the form has one, confirmed again with the new value.
            await self.complete(turn, compiled)

    def cancel(self, turn: _Turn, compiled: CompiledRule) -> None:
        turn.trace.append(f"cancelled:{compiled.name}")
        for name in compiled.rule.require:
            turn.state.slots.pop(name, None)
        turn.scope.invalidate("slots")
        turn.state.active_form, turn.state.form_step = None, None
        if compiled.rule.cancelled:
            self.engine.say(turn, compiled.rule.cancelled)

    def yes_no(self, turn: _Turn) -> bool | None:
        """The user's yes (True) or no (False): the affirm / deny intents first, then yes/no words."""
        if self.engine.nlu is not None:
            intent = turn.understand().intent
            if intent in self.settings.affirm:
                return True
            if intent in self.settings.deny:
                return False
        return slot_values.yes_or_no(turn.message.text)

    # ----- corrections ----------------------------------------------------------------------------------------

    def _is_correction(self, turn: _Turn) -> bool:
        return self._says_correction(turn) or self._means_correction(turn)

    def _says_correction(self, turn: _Turn) -> bool:
        """The correction pattern matches ("actually ...", "I meant ...")."""
        return self._correction is not None and self._correction.search(turn.message.text) is not None

    def _means_correction(self, turn: _Turn) -> bool:
        """NLU classifies the message as a correction intent."""
        if self.settings.correct and self.engine.nlu is not None:
            return turn.understand().intent in self.settings.correct
        return False

    def _correct(self, turn: _Turn, compiled: CompiledRule) -> bool:
        """Give a filled slot of the form the value this message carries; True if one changed."""
        require = compiled.rule.require
        text = turn.message.text
        if self._correction is not None:
            # "actually 12 Baker Street": the value is what follows the correction words.
            text = self._correction.sub("", text, count=1).strip(" ,.!") or text
        named = self._named_slot(text, require)
        if named is not None:
            # "the payee is Carol": the value is what follows the slot's name (nothing: no new value).
            text = _after_name(text, named)
            if not text:
                return False
        filled = self._last_filled(turn, require)
        order = [named] if named is not None else list(reversed(filled))
        entities = self._entities(turn) if any(self.slots[n].entity for n in order) else []
        for position, name in enumerate(order):
            slot = self.slots[name]
            if slot.type is SlotType.BOOL and named is None:
                continue  # a bare "no" is an answer, not a new value for a yes/no slot
            value: Any = self._entity_value(slot, entities, text)
            if value is None and (slot.type is not SlotType.TEXT or slot.values or slot.choices):
                value = slot_values.from_text(slot, text, self.language)
            elif value is None and slot.from_text and (named is not None or position == 0):
                value = text.strip() or None
            if value is None or value == turn.state.slots.get(name):
                continue
            if self.set_slot(turn, name, value):
                turn.trace.append(f"corrected:{name}")
                return True
        return False

    def _named_slot(self, text: str, names: Sequence[str]) -> str | None:
        """The slot whose name ("to_account": "to account") the text mentions best, if exactly one does."""
        words = {w.lower() for w in _WORD.findall(text)}
        scores = {n: sum(part in words for part in n.lower().split("_")) / len(n.split("_")) for n in names}
        best = max(scores.values(), default=0.0)
        top = [n for n, s in scores.items() if s == best]
        return top[0] if best == 1.0 and len(top) == 1 else None

    # ----- filling --------------------------------------------------------------------------------------------

    def missing(self, turn: _Turn, names: Sequence[str]) -> list[str]:
        return [n for n in names if turn.state.slots.get(n) is None]

    def _last_filled(self, turn: _Turn, names: Sequence[str]) -> list[str]:
        """Filled slots of ``names``, in the order they were filled (a corrected slot counts as filled last)."""
        return [n for n in turn.state.slots if n in names and turn.state.slots[n] is not None]

    def _entities(self, turn: _Turn) -> list[Entity]:
        if turn.nlu is None and self.engine.nlu is not None:
            turn.understand()
        return list(turn.nlu.entities) if turn.nlu else []

    def _entity_value(self, slot: models.Slot, entities: Sequence[Entity], text: str, *, asked: bool = False) -> Any:
        """The value of the slot's entity in this message, in the slot's role if it has one. The slot the user
        was just asked for also takes a value in no other slot's role ("savings" answering "from which?")."""
        if not slot.entity:
            return None
        for entity in entities:
            if entity.entity != slot.entity:
                continue
            if slot.role is not None:
                role = self.roles.role_of(entity, text)
                if role != slot.role and not (asked and role not in self._roles_of(slot.entity)):
                    continue
            return entity.value
        return None

    def _roles_of(self, entity: str) -> frozenset[str]:
        return frozenset(s.role for s in self.slots.values() if s.entity == entity and s.role)

    def fill(self, turn: _Turn, names: Sequence[str], pending: Sequence[str] = ()) -> list[str]:
        """Fill missing slots from this message's entities (and the pending one from its text); return the rest."""
        missing = self.missing(turn, names)
        needs_nlu = any(self.slots[n].entity for n in missing) or any(
            self.slots[n].type is SlotType.BOOL for n in pending
        )
        entities = self._entities(turn) if needs_nlu else []
        text = turn.message.text
        for name in missing:
            slot = self.slots[name]
            value = self._entity_value(slot, entities, text, asked=name in pending)
            if value is None and name in pending:
                value = self.yes_no(turn) if slot.type is SlotType.BOOL else slot_values.from_text(
                    slot, text, self.language
                )  # fmt: skip
            if value is not None:
                self.set_slot(turn, name, value)
        return self.missing(turn, names)

    def set_slot(self, turn: _Turn, name: str, value: Any) -> bool:
        """Store a value after coercing and validating it; False (slot unchanged) when it is not acceptable."""
        slot = self.slots.get(name)
        if slot is None:
            logger.warning("plugin set an unknown slot", extra={"slot": name})
            return False
        if value is None:
            # None clears the slot (a plugin that refuses a value asks for it again this way).
            turn.state.slots.pop(name, None)
            turn.scope.invalidate("slots")
            return True
        coerced = slot_values.coerce(slot, value, self.language)
        if (
            coerced is not None
            and slot.valid
            and not self.engine.conditions.check(slot.valid, coerced, turn.state.slots)
        ):
            coerced = None
        if coerced is None:
            turn.invalid_slot = name
            return False
        # Re-inserted so that the slot filled (or corrected) last is last: corrections look there first.
        turn.state.slots.pop(name, None)
        turn.state.slots[name] = coerced
        turn.scope.invalidate("slots")
        return True

    def ask(self, turn: _Turn, slot_name: str, *, invalid: bool = False) -> None:
        slot = self.slots[slot_name]
        response = slot.invalid if invalid and slot.invalid else slot.ask
        assert response is not None  # checked at load: form slots have an `ask`
        self.engine.say(turn, response)


_CONNECTOR = re.compile(r"\s*(?:(?:is|to|be|should|will|=)\b|[=:,-])\s*", re.IGNORECASE)


def _after_name(text: str, slot_name: str) -> str:
    """What follows the last word of ``slot_name`` in ``text``, without connectors ("is", "to", ":")."""
    last = slot_name.rsplit("_", maxsplit=1)[-1]
    found = list(re.finditer(rf"\b{re.escape(last)}\b", text, re.IGNORECASE))
    if not found:
        return ""
    rest = text[found[-1].end() :]
    while (connector := _CONNECTOR.match(rest)) is not None and connector.end() > 0:
        rest = rest[connector.end() :]
    return rest.strip(" .!")
