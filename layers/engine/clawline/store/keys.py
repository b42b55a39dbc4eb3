"""Storage keys shared by the conversation store adapters.

Conversation ids cannot contain ``#`` (see ``messages.Identifier``), so ``C#{owner}#{conversation}`` is
unambiguous even when the owner (a JWT ``sub``) contains one. The owner is part of the key: a principal
can only ever address its own conversations.
"""

from __future__ import annotations

import base64
import binascii
import json

from clawline.errors import InvalidInputError

TURN_PREFIX = "T#"


def conversation_pk(owner: str, conversation_id: str) -> str:
    return f"C#{owner}#{conversation_id}"


def turn_sk(seq: int) -> str:
    return f"{TURN_PREFIX}{seq:012d}"


def encode_cursor(last_key: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, object]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError("cursor is not one this API returned") from exc
    if not isinstance(value, dict):
        raise InvalidInputError("cursor is not one this API returned")
    return value
