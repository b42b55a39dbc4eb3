"""The built-in entities skip a pattern only when the text cannot match it, and compile a pattern only when tried.

``clawline.nlu.builtins`` does not run (nor, on a cold start, compile) the e-mail, URL, phone and money patterns
on a message that lacks a character every match of theirs contains. That shortcut must never lose an entity.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawline.nlu import builtins
from clawline.nlu.builtins import Builtin, _may_match, _pattern, find_builtins

FRIDAY = date(2026, 11, 27)
#: Pieces the patterns care about (digits of other scripts too: ``\d`` is any Unicode decimal digit), glued by
#: hypothesis into messages.
PIECES = [
    "a", "x", " ", ".", ",", ":", "/", "@", "+", "-", "(", ")", "$", "€", "£", "k", "1", "20", "415", "555-0134",
    "\u0663", "\u096a", "\uff15", "www", "https", "://", "com", "dev", "usd", "eur", "euros", "noon", "twelve", "pm",
    "tomorrow", "monday", "march", "3rd", "2027-01-05", "jane", "example",
]  # fmt: skip
messages = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(text=messages, language=st.sampled_from(["en", "fr"]))
def test_a_pattern_is_skipped_only_when_it_cannot_match(text: str, language: str) -> None:
    for kind in Builtin:
        if not _may_match(kind, text):
            assert _pattern(kind, language).search(text) is None, (kind, text)


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
    ],
)
def test_a_message_holding_the_entity_is_always_tried(text: str, kind: Builtin) -> None:
    assert _may_match(kind, text)
    assert [e.entity for e in find_builtins(text, {kind}, FRIDAY)] == [kind.value]


def test_a_message_without_digits_at_or_dots_tries_only_the_word_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    tried: list[Builtin] = []
    compile_pattern = builtins._pattern

    def spy(kind: Builtin, language: str) -> re.Pattern[str]:
        tried.append(kind)
        return compile_pattern(kind, language)

    monkeypatch.setattr(builtins, "_pattern", spy)
    found = [e.entity for e in find_builtins("see you tomorrow at noon, all twelve", set(Builtin), FRIDAY)]
    assert found == ["date", "time", "number"]
    assert tried == [Builtin.DATE, Builtin.TIME, Builtin.NUMBER]  # so the other four are never compiled for it
