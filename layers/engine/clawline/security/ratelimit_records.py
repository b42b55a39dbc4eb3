"""A principal's rate-limit item read and removed for data rights (export, erase), by the HTTP function alone.

The item (``clawline.security.ratelimit``) holds no message data, only when the principal's bucket is full again;
its key names the principal, so it is part of what is stored about them. Erasing it resets the bucket: a caller
who erases themselves may send a burst again, which the stage throttling of API Gateway still bounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from clawline.security.ratelimit import bucket_key
from clawline.store.dynamodb import raise_for_client_error


@dataclass(frozen=True)
class RateLimitRecord:
    key: str
    #: When the bucket is full again (epoch milliseconds).
    tat_ms: int
    expires_at: int | None


class DynamoDBRateLimitRecords:
    def __init__(self, client: Any, table_name: str, *, scope: str) -> None:
        self._client = client
        self._table = table_name
        self._scope = scope

    def _key(self, principal: str) -> dict[str, Any]:
        return {"pk": {"S": bucket_key(self._scope, principal)}}

    def read(self, principal: str) -> RateLimitRecord | None:
        try:
            item = self._client.get_item(TableName=self._table, Key=self._key(principal), ConsistentRead=True).get(
                "Item"
            )
        except ClientError as exc:
            raise_for_client_error(exc)
            raise  # pragma: no cover
        if item is None:
            return None
        expires = item.get("expires_at", {}).get("N")
        return RateLimitRecord(
            item["pk"]["S"], int(item.get("tat_ms", {}).get("N", "0")), int(expires) if expires else None
        )

    def forget(self, principal: str) -> bool:
        try:
            old = self._client.delete_item(TableName=self._table, Key=self._key(principal), ReturnValues="ALL_OLD")
        except ClientError as exc:
            raise_for_client_error(exc)
            raise  # pragma: no cover
        return bool(old.get("Attributes"))
