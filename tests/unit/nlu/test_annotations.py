from __future__ import annotations

import pytest

from clawline.nlu.annotations import AnnotationError, parse_annotated


def test_short_annotation_is_removed_and_its_span_points_at_the_entity_text():
    ex = parse_annotated("fly from [Paris](city) to [Berlin](city) today")
    assert ex.text == "fly from Paris to Berlin today"
    assert [(e.entity, e.value, ex.text[e.start : e.end]) for e in ex.entities] == [
        ("city", "Paris", "Paris"),
        ("city", "Berlin", "Berlin"),
    ]


def test_json_annotation_carries_a_synonym_value_role_and_group():
    ex = parse_annotated('book [NYC]{"entity": "city", "value": "New York", "role": "destination", "group": "1"}')
    (ann,) = ex.entities
    assert ex.text == "book NYC"
    assert (ann.entity, ann.value, ann.text, ann.role, ann.group) == ("city", "New York", "NYC", "destination", "1")
    assert ex.text[ann.start : ann.end] == "NYC"


def test_legacy_entity_colon_value_form_sets_the_value():
    ex = parse_annotated("i live in [the big apple](city:New York)")
    assert ex.text == "i live in the big apple"
    assert ex.entities[0].value == "New York"


def test_text_without_annotations_is_returned_unchanged():
    text = "a [bracket] and (parens) but no annotation"
    ex = parse_annotated(text)
    assert ex.text == text
    assert ex.entities == []


def test_malformed_json_annotation_is_a_clear_validation_error():
    with pytest.raises(AnnotationError, match="bad entity JSON"):
        parse_annotated('go to [Rome]{"entity": city}')
