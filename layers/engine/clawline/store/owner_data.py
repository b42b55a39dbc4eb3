"""Data rights: everything stored about one owner, listed, exported and erased. The DynamoDB and S3 adapter of
the ``OwnerData`` port; the HTTP function's routes (``GET /v1/conversations``, ``GET /v1/me/export``,
``DELETE /v1/me`` and the admin ones) are thin over it.

An owner is an owner key (``user:{sub}`` or ``thing:{name}``, ``clawline.principals``). What is stored about
one, and how each part is found without a scan (the layout is ``docs/storage.md``'s)::

    StateTable        U#{owner}  C#{conversation}        one index item per conversation, which leads to
                      C#{owner}#{conversation}  T#{seq}   its turns (each one also the idempotency record of its
                                                T#~       message id) and the marker of a superseded one
                      U#{owner}  CUR, PROFILE            the current conversation, the profile
                      U#{owner}  THING#{thing}           (a user) each device paired with them, which leads to
                      D#{thing}  PAIR                    the pairing itself (a thing: its own pairing)
    ConnectionsTable  by_principal = owner               open WebSocket connections
    RateLimitTable    {bot}#{owner}                      the token bucket
    uploads bucket    uploads/{owner_prefix(owner)}      attachments (files uploaded or sent inline)

Erasing goes in an order a retry can finish: every part that another part leads to is deleted before the part
that leads to it, and the owner's own partition last, so an erase cut short (a timeout, a throttled table: 503)
leaves everything it did not reach findable, and calling it again goes on from there::

    conversations (turn items, then each index item) -> pairings (D#, then THING#) -> connections
      -> rate-limit item -> uploads -> what is left of U#{owner} (CUR, PROFILE, orphan index items)

A message being answered while the erase runs may store its turn after it: a second erase removes it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from clawline.attachments.limits import owner_prefix
from clawline.attachments.store import AttachmentStore
from clawline.channels.connections import DynamoDBConnectionStore
from clawline.errors import InvalidInputError
from clawline.principals import Principal, PrincipalKind
from clawline.security.ratelimit_records import DynamoDBRateLimitRecords
from clawline.store.dynamodb import DynamoDBConversationStore, raise_for_client_error
from clawline.store.keys import (
    CONVERSATION_INDEX_PREFIX,
    CURRENT_SK,
    PAIRED_THING_PREFIX,
    PAIRING_SK,
    PROFILE_SK,
    SUPERSEDED_SK,
    TURN_PREFIX,
    conversation_pk,
    decode_cursor,
    device_pk,
    encode_cursor,
    owner_pk,
)
from clawline.store.owners import PROFILE_CONTEXT
from clawline.store.pairings import DynamoDBPairings

EXPORT_FORMAT: Literal["clawline.export.v1"] = "clawline.export.v1"
#: Conversations a page of the list holds at most.
MAX_PAGE = 100
_EPOCH = datetime.min.replace(tzinfo=UTC)


# ----- what the routes answer -------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class ConversationEntry(_Model):
    conversation_id: str
    created_at: str | None = Field(description="when the conversation started (ISO 8601)")
    channel: str | None = Field(description="the channel of its first message")
    current: bool = Field(description="a message without a conversation id continues this one")


class ConversationList(_Model):
    conversations: list[ConversationEntry] = Field(description="newest first")
    next_cursor: str | None


class StoredTurn(_Model):
    seq: int
    message_id: str = Field(
        description="also the idempotency record: a message sent again with this id is answered with `reply` "
        "instead of being run again, for as long as the turn is stored"
    )
    turn: dict[str, Any] = Field(description="the message as stored: text, channel, intent, slots set, time")
    reply: dict[str, Any] = Field(description="the reply it was answered with")
    state: dict[str, Any] = Field(description="the conversation's state after it: slots, form, summary")
    invocation_id: str | None = Field(description="the Lambda request id that stored it")
    expires_at: str | None = Field(description="when it is deleted by the table's TTL (ISO 8601)")


class ExportedConversation(ConversationEntry):
    superseded_by: str | None = Field(description="the conversation that became current after it")
    turns: list[StoredTurn] = Field(description="oldest first")


class ExportedProfile(_Model):
    slots: dict[str, Any]
    version: int
    expires_at: str | None


class ExportedDevice(_Model):
    thing: str
    paired_at: str | None


class ExportedPairing(_Model):
    user: str
    paired_at: str | None


class ExportedConnection(_Model):
    connection_id: str
    connected_at: str | None
    expires_at: str | None
    domain: str | None
    stage: str | None


class ExportedRateLimit(_Model):
    key: str
    full_at: str = Field(description="when the caller's token bucket is full again (ISO 8601)")
    expires_at: str | None


class ExportedUpload(_Model):
    id: str
    size: int
    last_modified: str | None


class OwnerExport(_Model):
    format: Literal["clawline.export.v1"] = EXPORT_FORMAT
    owner: str = Field(description="the owner key: user:{sub} or thing:{name}")
    exported_at: str
    conversations: list[ExportedConversation] = Field(
        description="every conversation with every stored turn, decrypted; the turns are also the idempotency "
        "records of their message ids (there is no other idempotency store)"
    )
    profile: ExportedProfile | None = Field(description="the `scope: user` slots")
    paired_devices: list[ExportedDevice] = Field(description="(a user) the IoT things paired with them")
    pairing: ExportedPairing | None = Field(description="(a thing) the user it is paired with")
    connections: list[ExportedConnection] = Field(description="WebSocket connection records")
    rate_limit: ExportedRateLimit | None
    uploads: list[ExportedUpload] | None = Field(description="attachments' metadata; null without an uploads bucket")


@dataclass
class Erasure:
    """What an erase deleted (counts only: it is logged)."""

    conversations: int = 0
    turns: int = 0
    owner_items: int = 0
    pairings: int = 0
    connections: int = 0
    rate_limit: int = 0
    uploads: int = 0


class OwnerData(Protocol):
    """Everything stored about an owner, for data rights."""

    def conversations(self, owner: str, *, limit: int = 20, cursor: str | None = None) -> ConversationList:
        """The owner's conversations, newest first, a page at a time."""
        ...

    def export(self, owner: str) -> OwnerExport:
        """Everything stored about the owner, decrypted."""
        ...

    def erase(self, owner: str) -> Erasure:
        """Delete everything stored about the owner; erasing an owner with nothing stored does nothing."""
        ...


# ----- the adapter ------------------------------------------------------------------------------------------------


def _iso(epoch_seconds: str | int | None) -> str | None:
    return None if epoch_seconds is None else datetime.fromtimestamp(int(epoch_seconds), UTC).isoformat()


def _created(entry: ConversationEntry) -> datetime:
    try:
        return datetime.fromisoformat(entry.created_at) if entry.created_at else _EPOCH
    except ValueError:
        return _EPOCH


class DynamoDBOwnerData:
    def __init__(
        self,
        store: DynamoDBConversationStore,
        pairings: DynamoDBPairings,
        *,
        connections: DynamoDBConnectionStore | None = None,
        rate_limits: DynamoDBRateLimitRecords | None = None,
        uploads: AttachmentStore | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._client = store.client
        self._table = store.table
        self._pairings = pairings
        self._connections = connections
        self._rate_limits = rate_limits
        self._uploads = uploads
        self._now = now

    # ----- reading ------------------------------------------------------------------------------------------------

    def _partition(self, pk: str, *, consistent: bool = False, keys_only: bool = False) -> Iterator[dict[str, Any]]:
        """Every item of a partition, in sort-key order (a Query page per MB)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ConsistentRead": consistent,
        }
        if keys_only:
            kwargs["ProjectionExpression"] = "pk, sk"
        try:
            for page in self._client.get_paginator("query").paginate(**kwargs):
                yield from page.get("Items", [])
        except ClientError as exc:
            raise_for_client_error(exc)

    def _entries(self, items: list[dict[str, Any]]) -> list[ConversationEntry]:
        current = next((i["cid"]["S"] for i in items if i["sk"]["S"] == CURRENT_SK and "cid" in i), None)
        entries = [
            ConversationEntry(
                conversation_id=i["sk"]["S"][len(CONVERSATION_INDEX_PREFIX) :],
                created_at=i.get("created_at", {}).get("S"),
                channel=i.get("channel", {}).get("S"),
                current=i["sk"]["S"][len(CONVERSATION_INDEX_PREFIX) :] == current,
            )
            for i in items
            if i["sk"]["S"].startswith(CONVERSATION_INDEX_PREFIX)
        ]
        # Newest first; the index is keyed by conversation id, so the order is made here (an owner's index is
        # small: about 100 bytes per conversation, and conversations expire with the retention period).
        entries.sort(key=lambda e: (_created(e), e.conversation_id), reverse=True)
        return entries

    def conversations(self, owner: str, *, limit: int = 20, cursor: str | None = None) -> ConversationList:
        entries = self._entries(list(self._partition(owner_pk(owner))))
        if cursor is not None:
            after = decode_cursor(cursor)
            created, conversation = after.get("c"), after.get("id")
            if not isinstance(created, str) or not isinstance(conversation, str):
                raise InvalidInputError("cursor is not one this API returned")
            probe = ConversationEntry(conversation_id=conversation, created_at=created, channel=None, current=False)
            position = (_created(probe), conversation)
            entries = [e for e in entries if (_created(e), e.conversation_id) < position]
        page = entries[: max(1, min(limit, MAX_PAGE))]
        more = len(entries) > len(page)
        next_cursor = (
            encode_cursor({"c": page[-1].created_at or "", "id": page[-1].conversation_id}) if more and page else None
        )
        return ConversationList(conversations=page, next_cursor=next_cursor)

    def _turns(self, owner: str, conversation_id: str) -> tuple[list[StoredTurn], str | None]:
        turns: list[StoredTurn] = []
        superseded_by = None
        for item in self._partition(conversation_pk(owner, conversation_id)):
            sk = item["sk"]["S"]
            if sk == SUPERSEDED_SK:
                superseded_by = item.get("next", {}).get("S")
                continue
            if not sk.startswith(TURN_PREFIX):
                continue
            doc = json.loads(self._store.open_item(item, owner, conversation_id))
            turns.append(
                StoredTurn(
                    seq=int(sk[len(TURN_PREFIX) :]),
                    message_id=item["message_id"]["S"],
                    turn=doc.get("t", {}),
                    reply=doc.get("r", {}),
                    state=doc.get("s", {}),
                    invocation_id=item.get("rid", {}).get("S"),
                    expires_at=_iso(item.get("expires_at", {}).get("N")),
                )
            )
        return turns, superseded_by

    def export(self, owner: str) -> OwnerExport:
        principal = Principal.parse(owner)
        items = list(self._partition(owner_pk(owner), consistent=True))
        conversations = []
        for entry in self._entries(items):
            turns, superseded_by = self._turns(owner, entry.conversation_id)
            conversations.append(ExportedConversation(**entry.model_dump(), superseded_by=superseded_by, turns=turns))
        profile = None
        devices = []
        for item in items:
            sk = item["sk"]["S"]
            if sk == PROFILE_SK:
                profile = ExportedProfile(
                    slots=json.loads(self._store.open_item(item, owner, PROFILE_CONTEXT)),
                    version=int(item.get("v", {}).get("N", "0")),
                    expires_at=_iso(item.get("expires_at", {}).get("N")),
                )
            elif sk.startswith(PAIRED_THING_PREFIX):
                devices.append(
                    ExportedDevice(thing=sk[len(PAIRED_THING_PREFIX) :], paired_at=item.get("paired_at", {}).get("S"))
                )
        pairing = None
        if principal.kind is PrincipalKind.THING:
            for item in self._partition(device_pk(principal.id)):
                if item["sk"]["S"] == PAIRING_SK:
                    pairing = ExportedPairing(user=item["user"]["S"], paired_at=item.get("paired_at", {}).get("S"))
        return OwnerExport(
            owner=owner,
            exported_at=self._now().isoformat(),
            conversations=conversations,
            profile=profile,
            paired_devices=devices,
            pairing=pairing,
            connections=self._exported_connections(owner),
            rate_limit=self._exported_rate_limit(owner),
            uploads=self._exported_uploads(owner),
        )

    def _exported_connections(self, owner: str) -> list[ExportedConnection]:
        if self._connections is None:
            return []
        out = []
        # The index holds keys only: each record is read for its times (an owner has a few open connections).
        for connection_id in self._connections.by_principal(owner):
            record = self._connections.get(connection_id)  # None: expired, waiting for the TTL to delete it
            out.append(
                ExportedConnection(
                    connection_id=connection_id,
                    connected_at=_iso(record.connected_at) if record else None,
                    expires_at=_iso(record.expires_at) if record else None,
                    domain=record.domain if record else None,
                    stage=record.stage if record else None,
                )
            )
        return out

    def _exported_rate_limit(self, owner: str) -> ExportedRateLimit | None:
        record = self._rate_limits.read(owner) if self._rate_limits is not None else None
        if record is None:
            return None
        full_at = datetime.fromtimestamp(record.tat_ms / 1000, UTC).isoformat()
        return ExportedRateLimit(key=record.key, full_at=full_at, expires_at=_iso(record.expires_at))

    def _exported_uploads(self, owner: str) -> list[ExportedUpload] | None:
        if self._uploads is None:
            return None
        prefix = owner_prefix(owner)
        return [
            ExportedUpload(
                id=o.key[len(prefix) :],
                size=o.size,
                last_modified=o.last_modified.isoformat() if o.last_modified else None,
            )
            for o in self._uploads.list_prefix(prefix)
        ]

    # ----- erasing ------------------------------------------------------------------------------------------------

    def erase(self, owner: str) -> Erasure:
        principal = Principal.parse(owner)
        erased = Erasure()
        items = list(self._partition(owner_pk(owner), consistent=True))
        for entry in self._entries(items):
            erased.turns += self._store.delete(entry.conversation_id, owner)
            erased.conversations += 1
        if principal.kind is PrincipalKind.USER:
            for item in items:
                sk = item["sk"]["S"]
                if sk.startswith(PAIRED_THING_PREFIX):
                    # Only if it is still paired with this user; the user's THING# item goes either way.
                    erased.pairings += self._pairings.unpair(sk[len(PAIRED_THING_PREFIX) :], user=principal.id)
        else:
            erased.pairings += self._pairings.unpair(principal.id)
        if self._connections is not None:
            for connection_id in self._connections.by_principal(owner):
                self._connections.remove(connection_id)
                erased.connections += 1
        if self._rate_limits is not None:
            erased.rate_limit = int(self._rate_limits.forget(owner))
        if self._uploads is not None:
            keys = [o.key for o in self._uploads.list_prefix(owner_prefix(owner))]
            erased.uploads = self._uploads.delete(keys) if keys else 0
        # Last: until now this partition led to what was not erased yet.
        rest = [
            {"pk": i["pk"], "sk": i["sk"]} for i in self._partition(owner_pk(owner), consistent=True, keys_only=True)
        ]
        try:
            self._store.delete_keys(rest)
        except ClientError as exc:
            raise_for_client_error(exc)
        erased.owner_items = len(rest)
        return erased
