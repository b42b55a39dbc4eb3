"""The built-in entities skip a pattern only when the text cannot match it, and compile a pattern only when tried.

``clawline.nlu.builtins`` does not run (nor, on a cold start, compile) the e-mail, URL, phone and money patterns
on a message that lacks a character every match of theirs contains, nor the date, time and number patterns on one
with neither a digit nor one of their words. That shortcut must never lose an entity.
"""

from __future__ import annotations

import re
import string
import sys
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawline.nlu import builtins
from clawline.nlu.builtins import _CASE_TWINS, _WORD_CUES, Builtin, _may_match, _pattern, find_builtins

FRIDAY = date(2026, 11, 27)
#: Pieces the patterns care about (digits of other scripts too: ``\d`` is any Unicode decimal digit), glued by
#: hypothesis into messages.
PIECES = [
    "a", "x", " ", ".", ",", ":", "/", "@", "+", "-", "(", ")", "$", "€", "£", "k", "1", "20", "415", "555-0134",
    "\u0663", "\u096a", "\uff15", "www", "https", "://", "com", "dev", "usd", "eur", "euros", "noon", "twelve", "pm",
    "tomorrow", "monday", "march", "3rd", "2027-01-05", "jane", "example",
    # The word cues in other cases, cut in two, and the non-ASCII letters an ignore-case pattern reads as ASCII ones.
    "TODAY", "Tonight", "yesterday", "SunDay", "day", "to", "morrow", "unday", "Mid", "night", "day", "NOON",
    "ONE", "Dozen", "a dozen", "hundred", "zero", "\u017f", "\u212a", "\u0130", "\u0131", "\u017fix", "tue\u017fday",
    "el\u0130ven", "\u212aey", "é", "ß", "😀",
]  # fmt: skip
messages = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=messages, language=st.sampled_from(["en", "fr"]))
def test_a_pattern_is_skipped_only_when_it_cannot_match(text: str, language: str) -> None:
    for kind in Builtin:
        if not _may_match(kind, text):
            assert _pattern(kind, language).search(text) is None, (kind, text)


def _eager(text: str, language: str) -> list[object]:
    """Every pattern tried, as before the shortcut."""
    found = []
    for kind in builtins.PRECEDENCE:
        normalize = builtins._values(kind, FRIDAY, language)
        for m in _pattern(kind, language).finditer(text):
            try:
                value = normalize(m)
            except (ValueError, KeyError, OverflowError):
                value = None
            if value is not None:
                found.append((kind.value, value, m.group(0), m.start(), m.end()))
    return found


@settings(max_examples=400, deadline=None)
@given(text=messages, language=st.sampled_from(["en", "fr"]))
def test_the_entities_found_are_those_every_pattern_tried_finds(text: str, language: str) -> None:
    found = [(e.entity, e.value, e.text, e.start, e.end) for e in find_builtins(text, set(Builtin), FRIDAY, language)]
    assert found == _eager(text, language)


def test_the_case_twins_are_every_non_ascii_character_an_ignore_case_letter_matches() -> None:
    everything = "".join(chr(c) for c in range(0x80, sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    twins = {m.group(0) for letter in string.ascii_lowercase for m in re.finditer(f"(?i){letter}", everything)}
    assert twins == set(_CASE_TWINS)


@pytest.mark.parametrize(("text", "kind"), [("\u017fix of them", Builtin.NUMBER), ("next tue\u017fday", Builtin.DATE)])
def test_a_message_with_a_case_twin_is_tried(text: str, kind: Builtin) -> None:
    # U+017F (the long s) is an "s" to an ignore-case pattern: these match (their values are then dropped).
    assert _pattern(kind, "en").search(text) is not None
    assert _may_match(kind, text)


def test_the_word_cues_are_ascii_and_lower_case() -> None:
    # ``_may_match`` compares them with the lowered message.
    cues = [cue for words in _WORD_CUES.values() for cue in words]
    assert all(cue.isascii() and cue == cue.lower() for cue in cues)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mail Jane.Doe@Example.com now", Builtin.EMAIL),
        ("go to www.clawline.dev", Builtin.URL),
        ("see https://example.org", Builtin.URL),
        ("open http://localhost", Builtin.URL),  # no dot: the colon lets it through
        ("call +1 415-555-0134 please", Builtin.PHONE),
        ("it costs $20", Builtin.MONEY),
        ("it costs $\u0662\u0660", Builtin.MONEY),  # Arabic-Indic digits are ``\d`` too
        ("see you TOMORROW", Builtin.DATE),
        ("next Friday then", Builtin.DATE),
        ("at midnight", Builtin.TIME),
        ("at 7pm", Builtin.TIME),
        ("Twelve of them", Builtin.NUMBER),
    ],
)
def test_a_message_holding_the_entity_is_always_tried(text: str, kind: Builtin) -> None:
    assert _may_match(kind, text)
    assert [e.entity for e in find_builtins(text, {kind}, FRIDAY)] == [kind.value]


@pytest.fixture
def tried(monkeypatch: pytest.MonkeyPatch) -> list[Builtin]:
    """The built-in patterns compiled (or taken from the cache) during the test, in order."""
    asked: list[Builtin] = []
    compile_pattern = builtins._pattern

    def spy(kind: Builtin, language: str) -> re.Pattern[str]:
        asked.append(kind)
        return compile_pattern(kind, language)

    monkeypatch.setattr(builtins, "_pattern", spy)
    return asked


def test_a_message_without_digits_at_or_dots_tries_only_the_word_patterns(tried: list[Builtin]) -> None:
    found = [e.entity for e in find_builtins("see you tomorrow at noon, all twelve", set(Builtin), FRIDAY)]
    assert found == ["date", "time", "number"]
    assert tried == [Builtin.DATE, Builtin.TIME, Builtin.NUMBER]  # so the other four are never compiled for it


def test_a_greeting_compiles_no_pattern(tried: list[Builtin]) -> None:
    # The first message of a cold start is often one: it pays for no built-in pattern.
    assert list(find_builtins("Hello there, how are you?", set(Builtin), FRIDAY)) == []
    assert tried == []
