"""The rule emulator's SQL subset: the template's own rule evaluates as IoT Core would, WHERE filters, and
anything outside the subset is refused when parsed instead of being evaluated wrongly."""

from __future__ import annotations

import base64
import json

import pytest

from local import iotsql
from local.template import Template, topic_rules


def message(payload: bytes | dict[str, object], topic: str = "clawline/oven-1/in") -> iotsql.Message:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return iotsql.Message(topic=topic, payload=raw, client_id="oven-1-client", timestamp_ms=1_795_752_000_000)


def test_the_templates_rule_gives_the_event_the_mqtt_function_expects() -> None:
    (spec,) = topic_rules(Template.read())
    rule = iotsql.parse(spec.sql)
    assert rule.evaluate(message(b"\x00raw")) == {
        "payload": base64.b64encode(b"\x00raw").decode(),
        "thing": "oven-1",
        "client_id": "oven-1-client",
        "received_at": 1_795_752_000_000,
    }
    assert rule.evaluate(message(b"{}", topic="clawline/oven-1/out")) is None
    assert rule.evaluate(message(b"{}", topic="clawline/a/b/in")) is None


def test_select_star_fields_and_where_follow_iot_semantics() -> None:
    rule = iotsql.parse(
        "SELECT *, topic(2) AS thing, meta.kind AS kind FROM 'dev/+/in' WHERE (n > 3 OR kind = 'x') AND NOT off = true"
    )
    assert rule.evaluate(message({"n": 5, "meta": {"kind": "y"}}, "dev/a/in")) == {
        "n": 5,
        "meta": {"kind": "y"},
        "thing": "a",
        "kind": "y",
    }
    assert rule.evaluate(message({"n": 1, "kind": "x"}, "dev/a/in")) is not None
    assert rule.evaluate(message({"n": 5, "off": True}, "dev/a/in")) is None
    # An undefined operand (a missing field, or any field of a non-JSON payload) makes a comparison false.
    assert rule.evaluate(message({"m": 5}, "dev/a/in")) is None
    assert rule.evaluate(message(b"not json", "dev/a/in")) is None


def test_topic_filters_match_like_mqtt() -> None:
    assert iotsql.topic_matches("a/+/c", "a/b/c")
    assert not iotsql.topic_matches("a/+/c", "a/b/c/d")
    assert iotsql.topic_matches("a/#", "a/b/c")
    assert not iotsql.topic_matches("a/b", "a/b/c")


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT upper(text) AS t FROM 'a/+'",  # a function outside the subset
        "SELECT encode(*, 'hex') AS p FROM 'a/+'",  # an encoding other than base64
        "SELECT topic(2) FROM 'a/+'",  # a computed value without a name
        "SELECT * FROM 'a/+' WHERE a LIKE 'x'",  # an operator outside the subset
        "SELECT * FROM 'a/+' GROUP BY x",  # anything after the rule
        "SELECT * FROM a",  # the topic filter must be a string
        "UPDATE x",
    ],
)
def test_sql_outside_the_subset_is_refused_when_parsed(sql: str) -> None:
    with pytest.raises(iotsql.SqlError):
        iotsql.parse(sql)
