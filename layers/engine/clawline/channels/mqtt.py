"""IoT Core MQTT: the rule's event in, replies published back to the device, failures dead-lettered.

The topic rule selects the raw payload base64-encoded together with the identity IoT Core vouches for:

    SELECT encode(*, 'base64') AS payload, topic(2) AS thing, clientid() AS client_id,
           timestamp() AS received_at FROM 'clawline/+/in'

so the function sees exactly what the device sent, JSON or not, and the thing name comes from the topic
(which the IoT policy restricts to the device's own), never from the payload.
"""

# No `from __future__ import annotations`: pydantic would evaluate each field's annotation string when it creates
# these classes at import (clawline.bot.models does the same).

import base64
import binascii
import json
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints
from pydantic import ValidationError as PydanticValidationError

from clawline.errors import InvalidInputError

#: AWS IoT thing names: 1-128 characters of [a-zA-Z0-9:_-].
THING_NAME = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")
#: Payload fields that try to claim an identity; identity comes from the topic, so these are refused.
IDENTITY_FIELDS = frozenset({"thing", "thing_name", "device_id", "sender", "client_id", "principal"})


class IotRuleEvent(BaseModel):
    """What the topic rule's SELECT produces. Extra fields are tolerated: the rule may add some later."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    payload: str
    thing: Annotated[str, StringConstraints(pattern=THING_NAME.pattern)]
    client_id: str | None = None
    received_at: int | None = None


def parse_event(event: dict[str, Any]) -> IotRuleEvent:
    try:
        return IotRuleEvent.model_validate(event)
    except PydanticValidationError as exc:
        raise InvalidInputError(
            "IoT rule event is not the shape the rule produces", details={"errors": str(exc)}
        ) from exc


def decode_payload(event: IotRuleEvent) -> bytes:
    try:
        return base64.b64decode(event.payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError("IoT rule event payload is not base64") from exc


def thing_from_event(event: dict[str, Any]) -> str | None:
    """The thing name, if the event carries a valid one (used to address an error reply)."""
    thing = event.get("thing") if isinstance(event, dict) else None
    return thing if isinstance(thing, str) and THING_NAME.match(thing) else None


def reply_topic(template: str, thing: str) -> str:
    return template.format(thing=thing)


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
