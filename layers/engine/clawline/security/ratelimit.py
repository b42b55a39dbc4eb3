"""Per-principal rate limits: a token bucket per (bot, principal) in DynamoDB, updated with a conditional write.

API Gateway's stage throttling protects the service as a whole; this bucket stops one user (or one device)
from taking all of it. Buckets live in their own table (``RateLimitTable``), one item per principal::

    pk = {bot}#{principal}   tokens, updated_ms, expires_at (TTL: an idle bucket is a full one)

One check is a consistent read, an in-memory refill, and a write conditioned on the ``updated_ms`` that was
read. Two concurrent turns of one principal cannot both spend the same token::

    turn A: read (5 tokens, t0) ───── write 4, if updated_ms = t0 ✓
    turn B:      read (5 tokens, t0) ───────── write 4, if updated_ms = t0 ✗ -> re-read (4, t1), write 3 ✓

DynamoDB has no ``min()`` in update expressions, which is why the refill is computed here and not in an
``UpdateExpression``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from clawline.errors import RateLimitedError
from clawline.observability import MetricName, count
from clawline.store.dynamodb import raise_for_client_error

#: Conditional-write races lost in a row before the caller is told to slow down (it is racing itself).
MAX_RACES = 4


@dataclass(frozen=True)
class RateLimit:
    """``capacity`` messages at once, refilled at ``refill_per_second``. ``capacity=0`` disables the limit."""

    capacity: int
    refill_per_second: float

    @property
    def enabled(self) -> bool:
        return self.capacity > 0 and self.refill_per_second > 0


class RateLimiter(Protocol):
    def check(self, principal: str) -> None:
        """Spend one token of ``principal``'s bucket, or raise ``RateLimitedError``."""


class UnlimitedRateLimiter:
    def check(self, principal: str) -> None:
        return None


class DynamoDBRateLimiter:
    def __init__(
        self,
        client: Any,
        table_name: str,
        limit: RateLimit,
        *,
        scope: str = "default",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table_name
        self._limit = limit
        self._scope = scope
        self._clock = clock

    def _key(self, principal: str) -> dict[str, Any]:
        return {"pk": {"S": f"{self._scope}#{principal}"}}

    def check(self, principal: str) -> None:
        if not self._limit.enabled:
            return
        for _ in range(MAX_RACES):
            if self._try_spend(principal):
                return
        count(MetricName.RATE_LIMITED)
        raise RateLimitedError(
            "too many messages, slow down", retry_after_seconds=1, details={"retry_after_seconds": 1}
        )

    def _try_spend(self, principal: str) -> bool:
        """True when a token was spent; False when another writer won the race (read again)."""
        key = self._key(principal)
        capacity, rate = float(self._limit.capacity), self._limit.refill_per_second
        try:
            item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        except ClientError as exc:
            raise_for_client_error(exc)
            raise  # pragma: no cover - raise_for_client_error always raises
        now_ms = int(self._clock() * 1000)
        if item is None:
            tokens, last_ms = capacity, None
        else:
            last_ms = int(item["updated_ms"]["N"])
            elapsed = max(0, now_ms - last_ms) / 1000
            tokens = min(capacity, float(item["tokens"]["N"]) + elapsed * rate)
        if tokens < 1:
            count(MetricName.RATE_LIMITED)
            retry_after = max(1, math.ceil((1 - tokens) / rate))
            raise RateLimitedError(
                "too many messages, slow down",
                retry_after_seconds=retry_after,
                details={"retry_after_seconds": retry_after},
            )
        # The bucket is full again after capacity/rate seconds; keeping it longer holds no information.
        expires_at = now_ms // 1000 + math.ceil(capacity / rate) + 60
        condition: dict[str, Any]
        if last_ms is None:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "updated_ms = :last",
                "ExpressionAttributeValues": {":last": {"N": str(last_ms)}},
            }
        new_ms = now_ms if last_ms is None or now_ms > last_ms else last_ms + 1
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **key,
                    "tokens": {"N": repr(tokens - 1)},
                    "updated_ms": {"N": str(new_ms)},
                    "expires_at": {"N": str(expires_at)},
                },
                **condition,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise_for_client_error(exc)
        return True
