"""The static table's vocabulary gives a token the same id whether it is searched for or indexed.

``clawline.nlu.vocabulary.NewlineVocabulary`` answers lookups by searching the newline-joined vocabulary until a
process has made ``SEARCHES`` of them, then from a dict: a WordPiece split must not depend on which.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clawline.nlu import vocabulary
from clawline.nlu.npz_views import read_npz
from clawline.nlu.static_table import TABLE_PATH, static_tokens
from clawline.nlu.vocabulary import NewlineVocabulary
from clawline.nlu.wordpiece import WordPieceTokenizer

JOINED = bytes(read_npz(TABLE_PATH)["vocab"].data)
TOKENS = JOINED.decode("utf-8").split("\n")
AS_DICT = dict(zip(TOKENS, range(len(TOKENS)), strict=True))

#: Tokens of the table, pieces of them and strings that are not tokens (newlines, a lone surrogate, the empty string).
lookups = st.one_of(
    st.sampled_from(TOKENS),
    st.sampled_from(TOKENS).map(lambda t: t[1:]),
    st.sampled_from(TOKENS).map(lambda t: t + "\n" + t),
    st.sampled_from(["", "\n", "\ud800", "[CLS]", "##", "hello\nthere", "##\uff5e", TOKENS[0], TOKENS[-1]]),
    st.text(max_size=8),
)


def test_the_packaged_vocabulary_has_no_repeated_token() -> None:
    # A repeated token's id would be its first line searched for and its last line in a dict built the usual way.
    assert len(AS_DICT) == len(TOKENS) == 30522


@settings(max_examples=300, deadline=None)
@given(token=lookups)
def test_a_token_searched_for_has_its_id_in_the_vocabulary(token: str) -> None:
    searched = NewlineVocabulary(JOINED)
    assert searched.get(token) == AS_DICT.get(token)
    assert not searched.indexed


@settings(max_examples=50, deadline=None)
@given(tokens=st.lists(lookups, min_size=vocabulary.SEARCHES + 1, max_size=vocabulary.SEARCHES + 40))
def test_the_vocabulary_is_indexed_after_its_searches_and_answers_alike(tokens: list[str]) -> None:
    searched = NewlineVocabulary(JOINED)
    answers = [searched.get(t) for t in tokens]
    assert answers == [AS_DICT.get(t) for t in tokens]
    assert searched.indexed
    assert searched.index() == AS_DICT


def test_a_missing_token_is_a_key_error_as_in_a_dict() -> None:
    searched = NewlineVocabulary(JOINED)
    assert searched["[CLS]"] == AS_DICT["[CLS]"]
    assert "hello" in searched and "hello\nthere" not in searched
    with pytest.raises(KeyError):
        searched["no such token"]


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=40) | st.lists(st.sampled_from(TOKENS), max_size=8).map(" ".join))
def test_wordpiece_splits_the_same_with_a_searched_vocabulary(text: str) -> None:
    indexed = WordPieceTokenizer.from_tokens(TOKENS, max_tokens=256)
    searched = WordPieceTokenizer.from_vocabulary(NewlineVocabulary(JOINED), max_tokens=256)
    assert searched.encode(text) == indexed.encode(text)


def test_a_cold_process_searches_the_static_table_for_its_first_words() -> None:
    # What the first classification of a cold start saves: the table's vocabulary is not indexed for a few words.
    static_tokens.cache_clear()
    try:
        table = static_tokens()
        assert table.token_ids("hello") == [AS_DICT["hello"]]
        assert isinstance(table.tokenizer.vocab, NewlineVocabulary)
        assert not table.tokenizer.vocab.indexed
    finally:
        static_tokens.cache_clear()
