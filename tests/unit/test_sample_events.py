"""The sample events in events/ are what AWS sends: checked against Powertools' parser models where one exists.

IoT rule events have no Powertools model (a rule's event is its SELECT result), so they are checked against the
model the MQTT function parses them with, plus the rule SQL's field names in template.yaml.
"""

from __future__ import annotations

import base64
import re

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventV2Model,
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from pydantic import BaseModel

from clawline.channels.mqtt import IotRuleEvent
from clawline.channels.reminders import ReminderEvent
from local.template import Template
from tests.helpers.events import all_events, load_event

MODELS: dict[str, type[BaseModel]] = {
    "http/": APIGatewayProxyEventV2Model,
    "websocket/connect.json": APIGatewayWebSocketConnectEventModel,
    "websocket/message.json": APIGatewayWebSocketMessageEventModel,
    "websocket/disconnect.json": APIGatewayWebSocketDisconnectEventModel,
    "mqtt/": IotRuleEvent,
    # A schedule's input is what the reminder plugin writes: the model the reminder function parses it with.
    "reminder/": ReminderEvent,
}


def model_for(name: str) -> type[BaseModel] | None:
    return next((model for prefix, model in MODELS.items() if name.startswith(prefix)), None)


@pytest.mark.parametrize("name", [n for n in all_events() if model_for(n)])
def test_sample_event_matches_the_aws_event_model(name: str) -> None:
    model = model_for(name)
    assert model is not None
    model.model_validate(load_event(name))


def test_every_route_and_topic_has_a_sample_event() -> None:
    names = set(all_events())
    assert {
        "http/post_message.json",
        "http/get_messages.json",
        "http/delete_conversation.json",
        "http/health.json",
    } <= names
    assert {"websocket/connect.json", "websocket/message.json", "websocket/disconnect.json"} <= names
    assert {"mqtt/message.json", "authorizer/http_request.json", "authorizer/websocket_connect.json"} <= names


def test_http_post_samples_carry_a_json_content_type() -> None:
    # Without it FastAPI behind Mangum answers 422, as `sam local generate-event` samples do.
    for name in all_events():
        event = load_event(name)
        if name.startswith("http/") and event["requestContext"]["http"]["method"] == "POST":
            assert event["headers"]["content-type"] == "application/json"


def test_mqtt_samples_have_exactly_the_fields_the_rule_selects() -> None:
    rule = Template.read().resources["InboundTopicRule"]["Properties"]["TopicRulePayload"]["Sql"]
    selected = set(re.findall(r"AS (\w+)", rule))
    for name in all_events():
        if name.startswith("mqtt/"):
            event = load_event(name)
            assert set(event) == selected, name
            base64.b64decode(event["payload"], validate=True)
