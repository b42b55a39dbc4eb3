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
from clawline.store.keys import PAIRING_SK, device_pk, owner_pk, paired_thing_sk

#: How long a container trusts what it read of a thing's pairing.
PAIRING_TTL_SECONDS = 60.0
PAIRING_ENTRIES = 4096


class Pairings(Protocol):
    def get(self, thing: str) -> str | None:
        """The sub of the user the thing is paired with, or None."""
        ...

    def pair(self, thing: str, user: str) -> None: ...

    def unpair(self, thing: str, *, user: str | None = None) -> bool:
        """Remove the pairing (only if it is with ``user``, when given); False when there was none."""
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
        now = datetime.now(UTC).isoformat()
        try:
            self._client.put_item(
                TableName=self._table, Item={**self._reverse_key(thing, user), "paired_at": {"S": now}}
            )
            old = self._client.put_item(
                TableName=self._table,
                Item={**self._key(thing), "user": {"S": user}, "paired_at": {"S": now}},
                ReturnValues="ALL_OLD",
            ).get("Attributes", {})
            previous = old.get("user", {}).get("S")
            if previous and previous != user:  # re-paired: the previous user no longer lists the device
                self._client.delete_item(TableName=self._table, Key=self._reverse_key(thing, previous))
        except ClientError as exc:
            raise_for_client_error(exc)

    def unpair(self, thing: str, *, user: str | None = None) -> bool:
        kwargs: dict[str, Any] = {}
        if user is not None:
            # Erasing a user: a device re-paired to someone else since is left alone.
            kwargs = {"ConditionExpression": "#u = :u", "ExpressionAttributeNames": {"#u": "user"}}
            kwargs["ExpressionAttributeValues"] = {":u": {"S": user}}
        try:
            old = self._client.delete_item(
                TableName=self._table, Key=self._key(thing), ReturnValues="ALL_OLD", **kwargs
            ).get("Attributes", {})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise_for_client_error(exc)
                raise  # pragma: no cover
            old = {}
        previous = old.get("user", {}).get("S") or user
        try:
            if previous:
                self._client.delete_item(TableName=self._table, Key=self._reverse_key(thing, previous))
        except ClientError as exc:
            raise_for_client_error(exc)
        return bool(old)

    def _reverse_key(self, thing: str, user: str) -> dict[str, Any]:
        return {"pk": {"S": owner_pk(owner_key(PrincipalKind.USER, user))}, "sk": {"S": paired_thing_sk(thing)}}


class InMemoryPairings:
    def __init__(self) -> None:
        self._users: dict[str, str] = {}

    def get(self, thing: str) -> str | None:
        return self._users.get(thing)

    def pair(self, thing: str, user: str) -> None:
        self._users[thing] = user

    def unpair(self, thing: str, *, user: str | None = None) -> bool:
        if user is not None and self._users.get(thing) != user:
            return False
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
