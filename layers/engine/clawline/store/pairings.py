"""Device pairings: an admin-granted link from an IoT thing to the user whose conversations it joins.

A thing is its own principal (``thing:{name}``, ``clawline.principals``): it never shares a user's data by a
coincidence of names. Pairing is the explicit link: an admin grants it (``PUT /v1/admin/devices/{thing}/pairing``
or ``clawline device pair``), and from then on the thing's MQTT messages are stored under the user's owner key
(``user:{sub}``: the same conversation the user has on HTTP and WebSocket), while its rate-limit bucket stays
``thing:{name}``. One item in StateTable::

    pk = D#{thing}   sk = PAIR   user: the sub, paired_at

The MQTT function resolves thing -> owner with one GetItem when its container has not seen the thing for
``PAIRING_TTL_SECONDS``, so unpairing (or pairing) takes effect within that time on every container.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError

from clawline.principals import PrincipalKind, owner_key
from clawline.store.dynamodb import raise_for_client_error
from clawline.store.keys import PAIRING_SK, device_pk

#: How long a container trusts what it read of a thing's pairing.
PAIRING_TTL_SECONDS = 60.0
PAIRING_ENTRIES = 4096


class Pairings(Protocol):
    def get(self, thing: str) -> str | None:
        """The sub of the user the thing is paired with, or None."""
        ...

    def pair(self, thing: str, user: str) -> None: ...

    def unpair(self, thing: str) -> bool:
        """Remove the pairing; False when there was none."""
        ...


class DynamoDBPairings:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _key(self, thing: str) -> dict[str, Any]:
        return {"pk": {"S": device_pk(thing)}, "sk": {"S": PAIRING_SK}}

    def get(self, thing: str) -> str | None:
        try:
            item = self._client.get_item(TableName=self._table, Key=self._key(thing)).get("Item")
        except ClientError as exc:
            raise_for_client_error(exc)
            raise  # pragma: no cover
        return None if item is None else str(item["user"]["S"])

    def pair(self, thing: str, user: str) -> None:
        item = {**self._key(thing), "user": {"S": user}, "paired_at": {"S": datetime.now(UTC).isoformat()}}
        try:
            self._client.put_item(TableName=self._table, Item=item)
        except ClientError as exc:
            raise_for_client_error(exc)

    def unpair(self, thing: str) -> bool:
        try:
            old = self._client.delete_item(TableName=self._table, Key=self._key(thing), ReturnValues="ALL_OLD")
        except ClientError as exc:
            raise_for_client_error(exc)
            raise  # pragma: no cover
        return bool(old.get("Attributes"))


class InMemoryPairings:
    def __init__(self) -> None:
        self._users: dict[str, str] = {}

    def get(self, thing: str) -> str | None:
        return self._users.get(thing)

    def pair(self, thing: str, user: str) -> None:
        self._users[thing] = user

    def unpair(self, thing: str) -> bool:
        return self._users.pop(thing, None) is not None


class DeviceOwners:
    """thing -> owner key, cached per container for ``ttl`` seconds (unpaired things too: no read per turn)."""

    def __init__(
        self,
        pairings: Pairings,
        *,
        ttl: float = PAIRING_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        size: int = PAIRING_ENTRIES,
    ) -> None:
        self._pairings = pairings
        self._ttl = ttl
        self._clock = clock
        self._size = size
        self._items: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def owner(self, thing: str) -> str:
        now = self._clock()
        with self._lock:
            cached = self._items.get(thing)
        if cached is not None and now - cached[1] < self._ttl:
            return cached[0]
        user = self._pairings.get(thing)
        owner = owner_key(PrincipalKind.USER, user) if user else owner_key(PrincipalKind.THING, thing)
        with self._lock:
            self._items[thing] = (owner, now)
            self._items.move_to_end(thing)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return owner
