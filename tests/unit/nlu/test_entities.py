from __future__ import annotations

from datetime import date

import pytest

from clawline.nlu.builtins import Builtin
from clawline.nlu.entities import EntitiesSpec, EntityExtractor, LookupEntity, RegexEntity

FRIDAY = date(2026, 11, 27)


def extract(text: str, spec: EntitiesSpec | None = None) -> list[tuple[str, object, str]]:
    found = EntityExtractor(spec, today=lambda: FRIDAY).extract(text)
    for e in found:
        assert text[e.start : e.end] == e.text
    return [(e.entity, e.value, e.text) for e in found]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i need 3 tickets", ("number", 3, "3")),
        ("about 2,500.75 of them", ("number", 2500.75, "2,500.75")),
        ("twelve people", ("number", 12, "twelve")),
        ("mail Jane.Doe@Example.com now", ("email", "jane.doe@example.com", "Jane.Doe@Example.com")),
        ("call +1 415-555-0134 please", ("phone", "+14155550134", "+1 415-555-0134")),
        ("see https://example.org/docs?a=1.", ("url", "https://example.org/docs?a=1", "https://example.org/docs?a=1")),
        ("go to www.clawline.dev", ("url", "https://www.clawline.dev", "www.clawline.dev")),
        ("it costs $20", ("money", {"amount": 20.0, "currency": "USD"}, "$20")),
        ("send 15.5 euros", ("money", {"amount": 15.5, "currency": "EUR"}, "15.5 euros")),
        ("meet tomorrow", ("date", "2026-11-28", "tomorrow")),
        ("next monday works", ("date", "2026-11-30", "next monday")),
        ("on 2027-01-05 then", ("date", "2027-01-05", "2027-01-05")),
        ("born on March 3rd, 1990", ("date", "1990-03-03", "March 3rd, 1990")),
        ("wake me at 7:30 pm", ("time", "19:30", "7:30 pm")),
        ("lunch at noon", ("time", "12:00", "noon")),
        ("at 23:05 sharp", ("time", "23:05", "23:05")),
    ],
)
def test_builtin_entities_have_spans_and_normalized_values(text, expected):
    assert expected in extract(text)


def test_money_is_not_also_reported_as_a_number():
    assert [e[0] for e in extract("pay $20 now")] == ["money"]


def test_a_date_in_the_past_without_a_year_means_next_year():
    assert ("date", "2027-05-05", "May 5th") in extract("see you May 5th")


def test_lookup_table_maps_synonyms_to_the_canonical_value_case_insensitively():
    spec = EntitiesSpec(lookups=[LookupEntity(name="city", values={"New York": ["NYC", "the big apple"]})], builtins=[])
    assert extract("flights to nyc or The Big Apple", spec) == [
        ("city", "New York", "nyc"),
        ("city", "New York", "The Big Apple"),
    ]


def test_lookup_matches_whole_words_only():
    spec = EntitiesSpec(lookups=[LookupEntity(name="fruit", values={"pear": []})], builtins=[])
    assert extract("spearmint", spec) == []


def test_bot_regex_wins_over_a_builtin_on_the_same_span():
    spec = EntitiesSpec(regexes=[RegexEntity(name="order_id", patterns=[r"\b\d{6}\b"])])
    assert extract("where is order 123456", spec) == [("order_id", "123456", "123456")]


def test_regex_value_group_and_global_synonyms_normalize_the_value():
    spec = EntitiesSpec(
        regexes=[RegexEntity(name="size", patterns=[r"size (?P<value>small|large|xl)"])], synonyms={"xl": "large"}
    )
    assert extract("a shirt in size XL", spec)[0][:2] == ("size", "large")


def test_builtins_can_be_turned_off():
    assert extract("3 tickets on friday for $20", EntitiesSpec(builtins=[])) == []
    assert [e[0] for e in extract("3 tickets for $20", EntitiesSpec(builtins=[Builtin.NUMBER]))] == ["number", "number"]


def test_invalid_regex_is_rejected_when_the_spec_is_built():
    with pytest.raises(ValueError, match="invalid regular expression"):
        RegexEntity(name="x", patterns=["(unclosed"])


def test_annotated_example_values_become_lookup_entries():
    from clawline.nlu.annotations import parse_annotated

    anns = parse_annotated('to [Paris](city) or [CDG]{"entity": "airport", "value": "Charles de Gaulle"}').entities
    spec = EntitiesSpec(builtins=[]).with_annotations(anns)
    assert extract("land at cdg near paris", spec) == [
        ("airport", "Charles de Gaulle", "cdg"),
        ("city", "Paris", "paris"),
    ]


def test_the_longest_lookup_match_wins_across_tables_whatever_their_order():
    spec = EntitiesSpec(
        builtins=[],
        lookups=[
            LookupEntity(name="account_type", values={"checking": [], "savings": []}),
            LookupEntity(name="product", values={"premier checking": []}),
        ],
    )
    assert extract("fees for premier checking", spec) == [("product", "premier checking", "premier checking")]
    # Declared order still breaks a tie between equally long matches; other values are still found.
    assert extract("move savings to checking", spec) == [
        ("account_type", "savings", "savings"),
        ("account_type", "checking", "checking"),
    ]


def test_numbers_and_money_share_one_parser_that_follows_the_language():
    from clawline.nlu.builtins import reference

    assert extract("send $1,250 and 2,500.75") == [
        ("money", {"amount": 1250.0, "currency": "USD"}, "$1,250"),
        ("number", 2500.75, "2,500.75"),
    ]
    with reference(FRIDAY, "de"):
        found = EntityExtractor(EntitiesSpec()).extract("1.250,50 € und 3,5 Stück")
    assert [(e.entity, e.value) for e in found] == [
        ("money", {"amount": 1250.5, "currency": "EUR"}), ("number", 3.5)
    ]  # fmt: skip


def test_relative_dates_are_read_against_the_reference_date_not_the_host_clock():
    from clawline.nlu.builtins import reference

    with reference(date(2030, 2, 28)):
        found = EntityExtractor(EntitiesSpec()).extract("tomorrow")
    assert [(e.entity, e.value) for e in found] == [("date", "2030-03-01")]


def test_a_regex_entity_match_written_as_a_synonym_is_extracted_as_the_canonical_value():
    spec = EntitiesSpec(
        builtins=[],
        regexes=[RegexEntity(name="acct", patterns=[r"\b(?:chk|checking|sav)\b"], synonyms={"checking": ["chk"]})],
    )
    assert extract("move chk to sav, then Checking", spec) == [
        ("acct", "checking", "chk"),
        ("acct", "sav", "sav"),  # no synonym: the matched text
        ("acct", "checking", "Checking"),
    ]
