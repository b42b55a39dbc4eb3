"""DynamoDB adapter for the ``ConversationStore`` port: a turn is one read request and one write request.

Item layout (one table, on-demand), one item per turn in a conversation's partition (the owner's own items, and
the marker ``T#~`` a superseded conversation carries, are ``clawline.store.owners``'s)::

    pk = C#{owner}#{conversation_id}   sk = T#{seq:012d}
         message_id   the client's message id (plain: replays are recognised without decrypting)
         doc          JSON {"t": the turn, "r": the reply it answered, "s": the conversation state after it};
                      with KMS, ``sdoc`` instead: that JSON sealed (binary) with the conversation's data key
         dk           (KMS only) the conversation's data key, KMS-encrypted, carried from turn to turn
         rid          the invocation (Lambda request id) that stored it
         expires_at   TTL

The newest turn item *is* the conversation's state. A turn costs:

- **one read**: ``Query(pk, sk begins_with T#, newest first, Limit=window)``: the window of recent turns and,
  in the newest, the state. Eventually consistent (half the read units): a stale read cannot do harm, because
  the write below is conditional; after a lost race the next load of that conversation reads consistently.
- **one write**: ``PutItem(T#{seq+1})`` with ``attribute_not_exists(pk)``. Two racing turns both read seq 3
  and both try to create T#4; exactly one can::

    turn A: query (newest T#3) ───────────── put T#4 if absent ✓
    turn B:        query (newest T#3) ──────────────── put T#4 if absent ✗ ConditionalCheckFailed -> ConflictError
                                                       (the engine reloads, now seeing T#4, and decides again)

  so no update is lost, turns are numbered in the order they were stored, and a message id is stored once:
  a replay finds its turn among the loaded ones (``TurnAlreadyStoredError``); a duplicate racing its first
  delivery loses the put, reloads, and then finds it.

Units: a write unit is 1 KB of item, a read unit 4 KB of the items a Query returns (half that when eventually
consistent). A turn item of short messages is 0.4-0.9 KB (about 0.2 KB more with KMS), so a turn writes 1 unit
and a 10-turn window reads 0.5-1 unit. No item grows: the window is read across items, never embedded.

With a ``FieldCipher`` (``clawline.security.encryption``) the doc is encrypted with an encryption context of
tenant, owner and conversation: a doc copied into another owner's conversation does not decrypt. Under KMS each
conversation has one data key (``dk``), so a turn costs no KMS call on a warm container and at most one
``Decrypt`` on a cold one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from clawline.conversation import ConversationState, Turn, TurnAlreadyStoredError, TurnPage
from clawline.errors import ConfigurationError, ConflictError, InvalidInputError, RetryableError
from clawline.messages import Reply
from clawline.security import is_encrypted
from clawline.store.keys import (
    SUPERSEDED_SK,
    TURN_PREFIX,
    TURNS_FROM,
    TURNS_TO,
    conversation_pk,
    decode_cursor,
    encode_cursor,
    index_sk,
    owner_pk,
    turn_sk,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from clawline.security.encryption import FieldCipher
    from clawline.store.owners import DynamoDBOwnerIndex
else:
    DynamoDBClient = Any

__all__ = ["DynamoDBConversationStore", "TurnAlreadyStoredError", "raise_for_client_error"]

#: Error codes that mean "try again later" after botocore's own retries gave up.
RETRYABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)
BATCH_WRITE_MAX = 25
#: Fields of the stored reply that the turn or the state already hold (rebuilt from them on a replay).
_REPLY_REBUILT = {"message_id", "conversation_id", "slots", "intent"}
_STATE_KEYS = {"conversation_id", "owner", "version"}


def raise_for_client_error(exc: ClientError) -> None:
    """Map a DynamoDB error to the engine's types by its error code (never by message text)."""
    code = exc.response.get("Error", {}).get("Code", "")
    if code in RETRYABLE_CODES:
        raise RetryableError("storage is busy, try again", details={"code": code}) from exc
    raise exc


class DynamoDBConversationStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        retention_seconds: int = 30 * 86400,
        cipher: FieldCipher | None = None,
        tenant: str = "clawline",
        invocation_id: Callable[[], str | None] | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention = retention_seconds
        self._cipher = cipher
        self._tenant = tenant
        self._invocation_id = invocation_id or (lambda: None)
        # Conversations whose last write lost a race here: their next load reads consistently.
        self._raced: set[str] = set()
        self._raced_lock = threading.Lock()
        self._owners: DynamoDBOwnerIndex | None = None

    def _context(self, owner: str, conversation_id: str) -> dict[str, str]:
        return {"tenant_id": self._tenant, "user_id": owner, "conversation_id": conversation_id}

    @property
    def owners(self) -> DynamoDBOwnerIndex:
        """The owners' partitions of the same table: current conversation, index items, profiles."""
        from clawline.store.owners import DynamoDBOwnerIndex

        if self._owners is None:
            self._owners = DynamoDBOwnerIndex(self)
        return self._owners

    def seal_into(
        self, item: dict[str, Any], doc: str, owner: str, name: str, sealed_key: bytes | None
    ) -> bytes | None:
        """Put ``doc`` into ``item`` as this store keeps documents (sealed, encrypted or plain) under the context of
        ``owner`` and ``name`` (a conversation id, or ``profile``); returns the data key blob to carry (KMS)."""
        context = self._context(owner, name)
        keyed = self._keyed()
        if keyed is not None:
            key, blob = keyed.conversation_key(context, sealed_key)
            item["sdoc"] = {"B": keyed.seal(key, doc, context)}
            item["dk"] = {"B": blob}
            return bytes(blob)
        item["doc"] = {"S": doc if self._cipher is None else self._cipher.encrypt(doc, context)}
        return None

    def open_item(self, item: dict[str, Any], owner: str, name: str) -> str:
        return self._open(item, self._context(owner, name))

    @property
    def client(self) -> DynamoDBClient:
        return self._client

    @property
    def table(self) -> str:
        return self._table

    @property
    def retention_seconds(self) -> int:
        return self._retention

    def _keyed(self) -> Any:
        """The cipher when it keeps one data key per conversation (KMS), else None."""
        return self._cipher if self._cipher is not None and hasattr(self._cipher, "conversation_key") else None

    def _open(self, item: dict[str, Any], context: dict[str, str]) -> str:
        if "sdoc" in item:
            keyed = self._keyed()
            if keyed is None or "dk" not in item:
                raise ConfigurationError("stored data is sealed with a KMS data key but KMS is not configured")
            key, _blob = keyed.conversation_key(context, bytes(item["dk"]["B"]))
            opened: str = keyed.unseal(key, bytes(item["sdoc"]["B"]), context)
            return opened
        doc: str = item["doc"]["S"]
        if not is_encrypted(doc):
            return doc  # written before encryption was turned on
        if self._cipher is None:
            raise ConfigurationError("stored data is encrypted but no cipher is configured (CLAWLINE_ENCRYPTION)")
        return self._cipher.decrypt(doc, context)

    def _turn(self, item: dict[str, Any], context: dict[str, str]) -> tuple[Turn, dict[str, Any]]:
        """The turn an item holds, and the state stored with it."""
        data = json.loads(self._open(item, context))
        message_id = item["message_id"]["S"]
        reply = Reply.model_validate(
            {
                **data.get("r", {}),
                "message_id": message_id,
                "conversation_id": context["conversation_id"],
                "intent": data["t"].get("intent"),
                "slots": data["s"].get("slots", {}),
            }
        )
        turn = Turn.model_validate(
            {
                **data["t"],
                "message_id": message_id,
                "seq": int(item["sk"]["S"][len(TURN_PREFIX) :]),
                "bot_texts": [m.text for m in reply.messages],
            }
        )
        # The state was updated when the turn was made: one timestamp serves both.
        data["s"].setdefault("updated_at", data["t"].get("created_at"))
        turn.reply = reply
        turn.invocation_id = item.get("rid", {}).get("S")
        return turn, data["s"]

    def load(
        self, conversation_id: str, owner: str, *, window: int = 10, as_current: bool = False
    ) -> ConversationState:
        pk = conversation_pk(owner, conversation_id)
        with self._raced_lock:
            consistent = pk in self._raced
            self._raced.discard(pk)
        # As the owner's current conversation (a message without a conversation id), the same one Query also
        # reads the superseded marker (T#~, after every turn): a container that cached an old current
        # conversation learns of the new one at no extra request.
        condition = "pk = :pk AND begins_with(sk, :t)" if as_current else "pk = :pk AND sk BETWEEN :t AND :end"
        values = {":pk": {"S": pk}, ":t": {"S": TURNS_FROM}}
        if not as_current:
            values[":end"] = {"S": TURNS_TO}
        try:
            resp = self._client.query(
                TableName=self._table,
                KeyConditionExpression=condition,
                ExpressionAttributeValues=values,
                ScanIndexForward=False,
                # At least the newest turn, which holds the state, even when the window is 0.
                Limit=max(window, 1),
                ConsistentRead=consistent,
            )
        except ClientError as exc:
            raise_for_client_error(exc)
            raise  # pragma: no cover - raise_for_client_error always raises
        items = resp.get("Items", [])
        if items and items[0]["sk"]["S"] == SUPERSEDED_SK:
            return ConversationState(conversation_id=conversation_id, owner=owner, superseded_by=items[0]["next"]["S"])
        if not items:
            return ConversationState(conversation_id=conversation_id, owner=owner)
        context = self._context(owner, conversation_id)
        turns = [self._turn(i, context) for i in reversed(items)]
        newest, state_doc = turns[-1]
        state = ConversationState.model_validate(
            {**state_doc, "conversation_id": conversation_id, "owner": owner, "version": newest.seq}
        )
        loaded = [t for t, _s in turns]
        state.loaded_turns = loaded
        state.recent_turns = loaded[-window:] if window > 0 else []
        if "dk" in items[0]:
            state.sealed_key = bytes(items[0]["dk"]["B"])
        return state

    def save(self, state: ConversationState, turn: Turn, *, reply: Reply | None = None) -> ConversationState:
        stored = state.stored_turn(turn.message_id)
        if stored is not None:
            raise TurnAlreadyStoredError(stored)
        pk = conversation_pk(state.owner, state.conversation_id)
        new_version = state.version + 1
        turn = turn.model_copy(update={"seq": new_version})
        saved = state.model_copy(deep=True, update={"version": new_version})
        answered = reply or Reply(
            message_id=turn.message_id, conversation_id=state.conversation_id, intent=turn.intent, slots=state.slots
        )
        if reply is None:
            from clawline.messages import OutboundMessage

            answered.messages = [OutboundMessage(text=t) for t in turn.bot_texts]
            answered.confidence = turn.confidence
        doc = json.dumps(
            {
                "t": json.loads(
                    turn.model_dump_json(exclude={"seq", "bot_texts", "message_id"}, exclude_defaults=True)
                ),
                "r": json.loads(answered.model_dump_json(exclude=_REPLY_REBUILT, exclude_defaults=True)),
                "s": json.loads(
                    saved.model_dump_json(
                        exclude=_STATE_KEYS | ({"updated_at"} if saved.updated_at == turn.created_at else set()),
                        exclude_defaults=True,
                    )
                ),
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        item: dict[str, Any] = {
            "pk": {"S": pk},
            "sk": {"S": turn_sk(new_version)},
            "message_id": {"S": turn.message_id},
        }
        blob = self.seal_into(item, doc, state.owner, state.conversation_id, state.sealed_key)
        if blob is not None:
            saved.sealed_key = blob
        invocation = self._invocation_id()
        if invocation:
            item["rid"] = {"S": invocation}
        item["expires_at"] = {"N": str(int(time.time()) + self._retention)}
        try:
            self._client.put_item(TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                with self._raced_lock:
                    if len(self._raced) > 10_000:  # bounded: forgetting one only costs a stale read and a retry
                        self._raced.clear()
                    self._raced.add(pk)
                raise ConflictError(
                    "conversation was changed by another turn", details={"expected_version": state.version}
                ) from exc
            raise_for_client_error(exc)
            raise  # pragma: no cover
        turn.reply = answered
        turn.invocation_id = invocation
        saved.recent_turns = [*state.recent_turns, turn]
        saved.loaded_turns = [*state.loaded_turns, turn]
        return saved

    def list_turns(self, conversation_id: str, owner: str, *, limit: int = 20, cursor: str | None = None) -> TurnPage:
        pk = conversation_pk(owner, conversation_id)
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :t AND :end",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":t": {"S": TURNS_FROM}, ":end": {"S": TURNS_TO}},
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor is not None:
            key = decode_cursor(cursor)
            sk = key.get("sk")
            if not isinstance(sk, str) or not sk.startswith(TURN_PREFIX):
                raise InvalidInputError("cursor is not one this API returned")
            kwargs["ExclusiveStartKey"] = {"pk": {"S": pk}, "sk": {"S": sk}}
        try:
            resp = self._client.query(**kwargs)
        except ClientError as exc:
            raise_for_client_error(exc)
            raise  # pragma: no cover
        items = resp.get("Items", [])
        context = self._context(owner, conversation_id)
        turns = [self._turn(i, context)[0] for i in items]
        last = resp.get("LastEvaluatedKey")
        return TurnPage(turns=turns, next_cursor=encode_cursor({"sk": last["sk"]["S"]}) if last else None)

    def delete(self, conversation_id: str, owner: str) -> int:
        pk = conversation_pk(owner, conversation_id)
        keys: list[dict[str, Any]] = []
        try:
            paginator = self._client.get_paginator("query")
            for page in paginator.paginate(
                TableName=self._table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": pk}},
                ProjectionExpression="pk, sk",
                ConsistentRead=True,
            ):
                keys.extend({"pk": i["pk"], "sk": i["sk"]} for i in page.get("Items", []))
            turns = sum(1 for k in keys if k["sk"]["S"] != SUPERSEDED_SK)
            if keys:  # its entry in the owner's list of conversations goes with it (last: a retry still finds it)
                keys.append({"pk": {"S": owner_pk(owner)}, "sk": {"S": index_sk(conversation_id)}})
            self.delete_keys(keys)
        except ClientError as exc:
            raise_for_client_error(exc)
            raise  # pragma: no cover
        return turns

    def delete_keys(self, keys: list[dict[str, Any]]) -> None:
        """Delete these items of the table, 25 per BatchWriteItem, in order."""
        for start in range(0, len(keys), BATCH_WRITE_MAX):
            self._batch_delete(keys[start : start + BATCH_WRITE_MAX])

    def _batch_delete(self, keys: list[dict[str, Any]]) -> None:
        requests: list[Any] = [{"DeleteRequest": {"Key": k}} for k in keys]
        for attempt in range(8):
            resp = self._client.batch_write_item(RequestItems={self._table: requests})
            requests = resp.get("UnprocessedItems", {}).get(self._table, [])
            if not requests:
                return
            time.sleep(min(0.05 * 2**attempt, 1.0))
        raise RetryableError("could not delete every item of the conversation, try again")
