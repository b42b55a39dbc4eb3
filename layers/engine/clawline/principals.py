"""Who a message comes from, and the key its data is kept under: principals of different kinds never collide.

A JWT ``sub`` (HTTP, WebSocket) and an IoT thing name (MQTT) are chosen by different parties: an identity
provider may well issue ``sub = "kitchen-1"``. Every key derived from a principal is therefore prefixed by its
kind, so that user reads nothing of the device ``kitchen-1`` and spends none of its rate-limit tokens::

    user:{sub}      a JWT principal (HTTP API, WebSocket)
    thing:{name}    an IoT thing (MQTT)

The same owner key is the conversation store's owner, the encryption context's ``user_id``, the rate-limit
bucket's principal and the connections table's principal. A device's messages may be stored under a user's
owner key only through an explicit, admin-granted pairing (``clawline.store.owners``); its rate-limit bucket
stays its own.

Examples
--------
>>> owner_key(PrincipalKind.USER, "alice")
'user:alice'
>>> Principal.parse("thing:kitchen-1")
Principal(kind=<PrincipalKind.THING: 'thing'>, id='kitchen-1')
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from clawline.errors import InvalidInputError


class PrincipalKind(StrEnum):
    USER = "user"
    THING = "thing"


def owner_key(kind: PrincipalKind | str, principal_id: str) -> str:
    """The key every item of this principal is stored under (``user:{sub}``, ``thing:{name}``)."""
    return f"{PrincipalKind(kind).value}:{principal_id}"


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class Principal(NamedTuple):
    """Who acts: a user (token subject) or a thing (device name)."""

    kind: PrincipalKind
    id: str

    @property
    def key(self) -> str:
        return owner_key(self.kind, self.id)

    @classmethod
    def user(cls, sub: str) -> Principal:
        return cls(PrincipalKind.USER, sub)

    @classmethod
    def thing(cls, name: str) -> Principal:
        return cls(PrincipalKind.THING, name)

    @classmethod
    def parse(cls, key: str) -> Principal:
        """The principal an owner key names; ``InvalidInputError`` for a key without a known kind."""
        kind, sep, principal_id = key.partition(":")
        if not sep or not principal_id or kind not in PrincipalKind.__members__.values():
            raise InvalidInputError("not an owner key (user:{sub} or thing:{name})", details={"reason": "owner_key"})
        return cls(PrincipalKind(kind), principal_id)
