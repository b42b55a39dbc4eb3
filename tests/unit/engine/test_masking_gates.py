"""Log masking skips a rule when the text lacks what every match of it contains (a digit, ``@``, ``=`` or ``:``, a
token's literal prefix), and compiles a pattern only when a text first passes its gate: the result must be exactly
what applying every rule to every text gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from clawline.security import masking

#: Pieces that make each rule's matches likely, joined with ordinary words, digits and separators.
PIECES = [
    "eyJhbGciOi.eyJzdWIiOi.sig",
    "Bearer abcdefghijkl",
    "basic QWxhZGRpbjpvcGVu",
    "AKIAABCDEFGHIJKLMNOP",
    "ASIA0123456789ABCDEF",
    "password=hunter22",
    "token: s3cr3tvalue",
    "ana@example.com",
    "4111 1111 1111 1111",
    "123-45-6789",
    "AB 12 34 56 C",
    "1990-03-12",
    "12 March 1990",
    "(555) 123-4567",
    "+44 20 7946 0958",
    "020 7946 0958",
    "NLU ready",
    "linear",
    "٣٤٥٦٧٨٩٠١٢٣٤٥",
]
TEXTS = st.lists(
    st.one_of(st.sampled_from(PIECES), st.text(alphabet="abcXYZ019 @=:.-+/()", max_size=12)), max_size=6
).map(" ".join)


def every_rule(text: str) -> str:
    for index in range(len(masking._RULES)):
        pattern, replacement = masking._rule(index)
        text = pattern.sub(replacement, text)
    return text


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_masking_with_gates_equals_every_rule_applied(text: str) -> None:
    assert masking.mask_text(text) == every_rule(text)


def test_each_kind_is_still_masked_and_plain_words_pass() -> None:
    for piece in PIECES:
        assert masking.mask_text(piece) == every_rule(piece)
    assert masking.mask_text("NLU ready") == "NLU ready"
    assert masking.mask_text("write to ana@example.com or call +44 20 7946 0958") == "write to [EMAIL] or call [PHONE]"
