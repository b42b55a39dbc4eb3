"""The lookup plugin reads a record from DynamoDB (moto's server over HTTP) by a slot value, in a bot."""

from __future__ import annotations

import contextlib

import pytest

from clawline import aws
from tests.unit.engine.helpers import make_engine, say

BOT = """
name: orders
slots:
  order_id: {type: text, ask: ask_order, from_text: true}
plugins:
  - module: plugins.lookup
    class: LookupPlugin
    config:
      table: orders-test
      key: order_id
      slot: order_id
      found: "Order {order_id} is {status}, {items} item(s)."
      not_found: "I can't find order {value}."
rules:
  - name: order_status
    when: text.contains("order")
    require: [order_id]
    then: [{plugin: lookup}, {clear_slot: order_id}]
responses:
  ask_order: ["What is your order number?"]
"""


@pytest.fixture
def table(moto: str) -> str:
    dynamodb = aws.client("dynamodb")
    with contextlib.suppress(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.delete_table(TableName="orders-test")
    dynamodb.create_table(
        TableName="orders-test",
        KeySchema=[{"AttributeName": "order_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "order_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(
        TableName="orders-test",
        Item={"order_id": {"S": "A-1001"}, "status": {"S": "shipped"}, "items": {"N": "3"}, "secret": {"S": "x"}},
    )
    return "orders-test"


def test_a_record_is_found_by_the_slot_the_form_filled(tmp_path, table):
    engine = make_engine(tmp_path / "bot", BOT)
    assert say(engine, "where is my order?").texts == ["What is your order number?"]
    assert say(engine, "A-1001").texts == ["Order A-1001 is shipped, 3 item(s)."]


def test_a_missing_record_gets_the_not_found_answer(tmp_path, table):
    engine = make_engine(tmp_path / "bot", BOT)
    say(engine, "my order please")
    assert say(engine, "Z-9").texts == ["I can't find order Z-9."]


def test_only_the_attributes_the_answer_needs_are_read(tmp_path, table):
    text = BOT.replace("then: [{plugin: lookup}, {clear_slot: order_id}]", "then: [{plugin: lookup}, {reply: raw}]")
    text += "  raw: ['{plugins.lookup.item}']\n"
    engine = make_engine(tmp_path / "bot", text)
    say(engine, "order")
    reply = say(engine, "A-1001")
    assert "secret" not in reply.texts[1] and "shipped" in reply.texts[1]


def test_dynamodb_unreachable_is_the_plugin_error_reply_not_a_lost_turn(tmp_path, aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    aws.client.cache_clear()
    text = BOT.replace("name: orders", "name: orders\nsettings: {plugin_timeout_ms: 300}")
    engine = make_engine(tmp_path / "bot", text)
    say(engine, "order")
    assert say(engine, "A-1001").texts == ["Sorry?"]
