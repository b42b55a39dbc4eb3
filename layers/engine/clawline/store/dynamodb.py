"""DynamoDB adapter for the ``ConversationStore`` port.

Item layout (one table, on-demand):

    pk = C#{owner}#{conversation_id}   sk = STATE            version, doc (JSON), expires_at
    pk = C#{owner}#{conversation_id}   sk = T#{seq:012d}     doc (JSON), message_id, expires_at (TTL)

A turn is written in the same transaction as the state, and the state write is conditioned on the version
read at the start of the turn:

    turn A: load v3 ───────────── save(v3->v4) ✓
    turn B:      load v3 ──────────────────── save(v3->v4) ✗ ConditionalCheckFailed -> ConflictError

so two racing turns can never both win (no lost update), whatever client tokens say.

With a ``FieldCipher`` (``clawline.security.encryption``) every ``doc`` (message text, slots) is encrypted
with an encryption context of tenant, owner and conversation: a doc copied into another owner's
conversation does not decrypt.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from clawline.conversation import ConversationState, Turn, TurnPage
from clawline.errors import ClawlineError, ConfigurationError, ConflictError, InvalidInputError, RetryableError
from clawline.security import is_encrypted
from clawline.store.keys import STATE_SK, TURN_PREFIX, conversation_pk, decode_cursor, encode_cursor, turn_sk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from clawline.security.encryption import FieldCipher
else:
    DynamoDBClient = Any

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


class TurnAlreadyStoredError(ClawlineError):
    """This message's turn is already stored: a re-run after a lost acknowledgement (not a new turn).

    The idempotency record is completed only after the turn is saved; if completing it fails (throttled past
    the SDK's retries) the client retries and the engine runs the message again. Saving it a second time would
    answer it twice, so the store refuses and hands back the stored turn to answer from.
    """

    code = "already_processed"
    http_status = 200

    def __init__(self, turn: Turn) -> None:
        super().__init__("this message was already processed", details={"message_id": turn.message_id})
        self.turn = turn


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
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention = retention_seconds
        self._cipher = cipher
        self._tenant = tenant

    def _context(self, owner: str, conversation_id: str) -> dict[str, str]:
        return {"tenant_id": self._tenant, "user_id": owner, "conversation_id": conversation_id}

    def _seal(self, doc: str, owner: str, conversation_id: str) -> str:
        return doc if self._cipher is None else self._cipher.encrypt(doc, self._context(owner, conversation_id))

    def _open(self, doc: str, owner: str, conversation_id: str) -> str:
        if not is_encrypted(doc):
            return doc  # written before encryption was turned on
        if self._cipher is None:
            raise ConfigurationError("stored data is encrypted but no cipher is configured (CLAWLINE_ENCRYPTION)")
        return self._cipher.decrypt(doc, self._context(owner, conversation_id))

    def load(self, conversation_id: str, owner: str, *, window: int = 10) -> ConversationState:
        pk = conversation_pk(owner, conversation_id)
        try:
            item = self._client.get_item(
                TableName=self._table, Key={"pk": {"S": pk}, "sk": {"S": STATE_SK}}, ConsistentRead=True
            ).get("Item")
            turns: list[Turn] = []
            if item is not None and window > 0:
                resp = self._client.query(
                    TableName=self._table,
                    KeyConditionExpression="pk = :pk AND begins_with(sk, :t)",
                    ExpressionAttributeValues={":pk": {"S": pk}, ":t": {"S": TURN_PREFIX}},
                    ScanIndexForward=False,
                    Limit=window,
                    ConsistentRead=True,
                )
                turns = [
                    Turn.model_validate_json(self._open(i["doc"]["S"], owner, conversation_id))
                    for i in reversed(resp.get("Items", []))
                ]
        except ClientError as exc:
            raise_for_client_error(exc)
            raise  # pragma: no cover - raise_for_client_error always raises
        if item is None:
            return ConversationState(conversation_id=conversation_id, owner=owner)
        state = ConversationState.model_validate_json(self._open(item["doc"]["S"], owner, conversation_id))
        state.version = int(item["version"]["N"])
        state.recent_turns = turns
        return state

    def save(self, state: ConversationState, turn: Turn) -> ConversationState:
        # The turns loaded with the state (the window) show a re-run of a message that was already answered.
        stored = next((t for t in state.recent_turns if t.message_id == turn.message_id), None)
        if stored is not None:
            raise TurnAlreadyStoredError(stored)
        pk = conversation_pk(state.owner, state.conversation_id)
        new_version = state.version + 1
        turn = turn.model_copy(update={"seq": new_version})
        saved = state.model_copy(deep=True, update={"version": new_version})
        expires_at = str(int(time.time()) + self._retention)
        if state.version == 0:
            condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "version = :expected",
                "ExpressionAttributeValues": {":expected": {"N": str(state.version)}},
            }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": {"S": pk},
                                "sk": {"S": STATE_SK},
                                "version": {"N": str(new_version)},
                                "doc": {"S": self._seal(saved.model_dump_json(), state.owner, state.conversation_id)},
                                "expires_at": {"N": expires_at},
                            },
                            **condition,
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": {
                                "pk": {"S": pk},
                                "sk": {"S": turn_sk(new_version)},
                                "message_id": {"S": turn.message_id},
                                "doc": {"S": self._seal(turn.model_dump_json(), state.owner, state.conversation_id)},
                                "expires_at": {"N": expires_at},
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if "ConditionalCheckFailed" in reasons:
                    raise ConflictError(
                        "conversation was changed by another turn", details={"expected_version": state.version}
                    ) from exc
            raise_for_client_error(exc)
            raise  # pragma: no cover
        saved.recent_turns = [*state.recent_turns, turn]
        return saved

    def list_turns(self, conversation_id: str, owner: str, *, limit: int = 20, cursor: str | None = None) -> TurnPage:
        pk = conversation_pk(owner, conversation_id)
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :t)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":t": {"S": TURN_PREFIX}},
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
        turns = [Turn.model_validate_json(self._open(i["doc"]["S"], owner, conversation_id)) for i in items]
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
            for start in range(0, len(keys), BATCH_WRITE_MAX):
                self._batch_delete(keys[start : start + BATCH_WRITE_MAX])
        except ClientError as exc:
            raise_for_client_error(exc)
            raise  # pragma: no cover
        return len(keys)

    def _batch_delete(self, keys: list[dict[str, Any]]) -> None:
        requests: list[Any] = [{"DeleteRequest": {"Key": k}} for k in keys]
        for attempt in range(8):
            resp = self._client.batch_write_item(RequestItems={self._table: requests})
            requests = resp.get("UnprocessedItems", {}).get(self._table, [])
            if not requests:
                return
            time.sleep(min(0.05 * 2**attempt, 1.0))
        raise RetryableError("could not delete every item of the conversation, try again")
