"""Storage keys shared by the conversation store adapters.

Conversation ids cannot contain ``#`` (see ``messages.Identifier``), so ``C#{owner}#{conversation}`` is
unambiguous even when the owner (``user:{sub}``, ``thing:{name}``) contains one. The owner is part of the key: a
principal can only ever address its own conversations. ``U#{owner}`` partitions hold what is the owner's across
conversations (``clawline.store.owners``), ``D#{thing}`` a device's pairing (``clawline.store.pairings``).
"""

from __future__ import annotations

import base64
import binascii
import json

from clawline.errors import InvalidInputError

TURN_PREFIX = "T#"
#: Sorts after every ``T#{seq:012d}``: in a conversation the owner has since superseded, it names the successor.
SUPERSEDED_SK = "T#~"
#: Turn items lie between these (``T#`` and digits), the marker outside: a plain load never reads it.
TURNS_FROM, TURNS_TO = "T#", "T#}"
#: The owner's own partition: ``CUR`` (the current conversation), ``C#{id}`` (one per conversation), ``PROFILE``.
CURRENT_SK = "CUR"
PROFILE_SK = "PROFILE"
CONVERSATION_INDEX_PREFIX = "C#"
#: A device's pairing with a user (admin-granted).
PAIRING_SK = "PAIR"
#: In the user's own partition, one item per device paired with them (``THING#{thing}``), so erasing a user finds
#: their pairings without a scan. Not ``D#``: that sorts between ``CUR`` and ``PROFILE``, which a turn reads with
#: one ``BETWEEN`` Query of at most two items (``clawline.store.owners``); ``THING#`` sorts after ``PROFILE``.
PAIRED_THING_PREFIX = "THING#"


def conversation_pk(owner: str, conversation_id: str) -> str:
    return f"C#{owner}#{conversation_id}"


def owner_pk(owner: str) -> str:
    return f"U#{owner}"


def index_sk(conversation_id: str) -> str:
    return f"{CONVERSATION_INDEX_PREFIX}{conversation_id}"


def device_pk(thing: str) -> str:
    return f"D#{thing}"


def paired_thing_sk(thing: str) -> str:
    return f"{PAIRED_THING_PREFIX}{thing}"


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
