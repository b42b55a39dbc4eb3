"""The owner's own partition in StateTable: which conversation is current, one index item per conversation, the
user profile; and the marker a superseded conversation carries. DynamoDB adapter of the ``OwnerIndex`` port.

Layout (``owner`` is an owner key, ``user:{sub}`` or ``thing:{name}``: ``clawline.principals``)::

    pk = U#{owner}                 sk = CUR                cid: the current conversation (the latest started)
    pk = U#{owner}                 sk = C#{conversation}   created_at, channel: written once, when it starts
    pk = U#{owner}                 sk = PROFILE            doc | sdoc + dk (the ``scope: user`` slots, sealed
                                                           like a turn under conversation_id "profile"), v,
                                                           expires_at (the bot's profile_retention_days)
    pk = C#{owner}#{previous}      sk = T#~                next: the conversation that superseded it

What it costs, and when (a warm turn pays nothing here):

- a container that does not know the owner's current conversation reads ``CUR`` and ``PROFILE`` with one
  Query (``sk BETWEEN CUR AND PROFILE``); a container that knows it queries that conversation with the marker
  included, and follows ``T#~`` if it is the newest item (rare: another channel started a conversation since);
- starting a conversation writes ``CUR`` (conditional), the index item and, when it supersedes one, the marker:
  three PutItems, once per conversation;
- a turn that changes a profile slot writes ``PROFILE`` once (conditional on its version).

Two channels starting the owner's first conversation at once converge on one::

    http: read CUR (none) ── put CUR=a if absent ✓ ── put T#1 in a
    ws:   read CUR (none) ───── put CUR=b if absent ✗ (ReturnValuesOnConditionCheckFailure: cid=a) ── turn in a
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from clawline.errors import ConflictError
from clawline.ports import OwnerRecord
from clawline.store.keys import (
    CURRENT_SK,
    PROFILE_SK,
    SUPERSEDED_SK,
    conversation_pk,
    index_sk,
    owner_pk,
)

if TYPE_CHECKING:
    from clawline.store.dynamodb import DynamoDBConversationStore

#: The encryption context's conversation_id for the profile: no conversation id can be it (ids have no space).
PROFILE_CONTEXT = "profile"
#: Profile data keys a container remembers (KMS: one data key per profile, carried in its item).
PROFILE_KEYS = 4096


def _conflict(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class DynamoDBOwnerIndex:
    def __init__(self, store: DynamoDBConversationStore) -> None:
        self._store = store
        self._client = store.client
        self._table = store.table
        self._profile_keys: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def _call(self, operation: str, **kwargs: Any) -> Any:
        from clawline.store.dynamodb import raise_for_client_error

        try:
            return getattr(self._client, operation)(TableName=self._table, **kwargs)
        except ClientError as exc:
            if _conflict(exc):
                raise
            raise_for_client_error(exc)
            raise  # pragma: no cover - raise_for_client_error always raises

    def read(self, owner: str) -> OwnerRecord:
        resp = self._call(
            "query",
            KeyConditionExpression="pk = :pk AND sk BETWEEN :cur AND :profile",
            ExpressionAttributeValues={
                ":pk": {"S": owner_pk(owner)},
                ":cur": {"S": CURRENT_SK},
                ":profile": {"S": PROFILE_SK},
            },
            ConsistentRead=True,
            Limit=2,
        )
        record = OwnerRecord()
        for item in resp.get("Items", []):
            if item["sk"]["S"] == CURRENT_SK:
                record.current = item["cid"]["S"]
            elif item["sk"]["S"] == PROFILE_SK:
                record.profile = json.loads(self._store.open_item(item, owner, PROFILE_CONTEXT))
                record.profile_version = int(item["v"]["N"])
                if "dk" in item:
                    self._remember_key(owner, bytes(item["dk"]["B"]))
        return record

    def start(self, owner: str, conversation_id: str, *, channel: str, expected: str | None, exclusive: bool) -> str:
        now = int(time.time())
        expires = {"N": str(now + self._store.retention_seconds)}
        pointer = {"pk": {"S": owner_pk(owner)}, "sk": {"S": CURRENT_SK}, "cid": {"S": conversation_id}}
        previous = expected
        if exclusive:
            if expected != conversation_id:
                condition, values = "attribute_not_exists(pk)", {}
                if expected is not None:
                    condition, values = "cid = :expected", {":expected": {"S": expected}}
                try:
                    self._call(
                        "put_item",
                        Item=pointer,
                        ConditionExpression=condition,
                        **({"ExpressionAttributeValues": values} if values else {}),
                        ReturnValuesOnConditionCheckFailure="ALL_OLD",
                    )
                except ClientError as exc:
                    winner = exc.response.get("Item", {}).get("cid", {}).get("S")
                    if winner:
                        return str(winner)
                    raise ConflictError("the current conversation changed, try again") from exc
        else:
            old = self._call("put_item", Item=pointer, ReturnValues="ALL_OLD").get("Attributes", {})
            previous = old.get("cid", {}).get("S")
        if previous and previous != conversation_id:
            self._call(
                "put_item",
                Item={
                    "pk": {"S": conversation_pk(owner, previous)},
                    "sk": {"S": SUPERSEDED_SK},
                    "next": {"S": conversation_id},
                    "expires_at": expires,
                },
            )
        self.index(owner, conversation_id, channel=channel)
        return conversation_id

    def index(self, owner: str, conversation_id: str, *, channel: str) -> None:
        try:
            self._call(
                "put_item",
                Item={
                    "pk": {"S": owner_pk(owner)},
                    "sk": {"S": index_sk(conversation_id)},
                    "created_at": {"S": datetime.now(UTC).isoformat()},
                    "channel": {"S": channel},
                },
                # Written once: a conversation that two turns start (a lost race) keeps its first entry.
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if not _conflict(exc):
                raise

    def save_profile(self, owner: str, profile: dict[str, Any], *, version: int, retention_days: int) -> int:
        item: dict[str, Any] = {
            "pk": {"S": owner_pk(owner)},
            "sk": {"S": PROFILE_SK},
            "v": {"N": str(version + 1)},
            "expires_at": {"N": str(int(time.time()) + retention_days * 86400)},
        }
        doc = json.dumps(profile, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
        with self._lock:
            known = self._profile_keys.get(owner)
        blob = self._store.seal_into(item, doc, owner, PROFILE_CONTEXT, known)
        if blob is not None:
            self._remember_key(owner, blob)
        condition, values = "attribute_not_exists(pk)", {}
        if version > 0:
            condition, values = "v = :v", {":v": {"N": str(version)}}
        try:
            self._call(
                "put_item",
                Item=item,
                ConditionExpression=condition,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except ClientError as exc:
            raise ConflictError("the profile was changed by another conversation") from exc
        return version + 1

    def _remember_key(self, owner: str, blob: bytes) -> None:
        with self._lock:
            self._profile_keys[owner] = blob
            self._profile_keys.move_to_end(owner)
            while len(self._profile_keys) > PROFILE_KEYS:
                self._profile_keys.popitem(last=False)
