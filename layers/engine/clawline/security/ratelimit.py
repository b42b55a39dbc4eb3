"""Per-principal rate limits across containers, with no DynamoDB call for most turns.

API Gateway's stage throttling protects the service as a whole; this limit stops one user (or one device)
from taking all of it: ``capacity`` messages at once, refilled at ``refill_per_second``.

The shared state is one item per (bot, principal) in ``RateLimitTable`` holding a GCRA "theoretical arrival
time" (``tat_ms``: when the bucket would be full again)::

    pk = {bot}#{principal}   tat_ms, expires_at (TTL: an item past its tat is a full bucket)

A container **leases** several tokens at once with a single conditional ``UpdateItem`` (never read-then-write)
and spends them locally, so most turns make no rate-limit request at all::

    lease n tokens at now (T = 1/rate seconds per token, tau = capacity x T):
      idle bucket (tat <= now):  SET tat = now + n*T        IF attribute_not_exists(tat_ms) OR tat_ms <= now
      busy bucket:               SET tat = tat + n*T        IF tat_ms > now AND tat_ms <= now + tau - n*T

The condition is the whole check, so two containers racing for the last tokens cannot both get them. A failed
condition returns the item (``ReturnValuesOnConditionCheckFailure``), which says which case applies next: no
extra read. When the bucket cannot give ``n`` it is asked for one; when it cannot give one, the turn is refused
with the time until a token is free (HTTP 429 + ``Retry-After``, a WebSocket error frame, an MQTT drop).

A leased token is spent within ``tau`` seconds or forgotten, so tokens held by idle containers never add up to
more than a burst; they can only make the limit stricter for a while, never looser.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from botocore.exceptions import ClientError

from clawline.errors import RateLimitedError
from clawline.observability import MetricName, count
from clawline.store.dynamodb import raise_for_client_error

#: Conditional updates tried in a row before the caller is told to slow down (it is racing itself).
MAX_RACES = 4
#: Tokens leased per request: half the burst (at most MAX_LEASE), so a container asks about once per ten turns
#: of a principal and two containers can still share a burst.
LEASE_FRACTION = 2
MAX_LEASE = 10
#: Principals whose leases a container remembers (least recently used forgotten first).
LEASE_ENTRIES = 4096


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class RateLimit(NamedTuple):
    """``capacity`` messages at once, refilled at ``refill_per_second``. ``capacity=0`` disables the limit."""

    capacity: int
    refill_per_second: float

    @property
    def enabled(self) -> bool:
        return self.capacity > 0 and self.refill_per_second > 0

    @property
    def lease(self) -> int:
        return max(1, min(MAX_LEASE, self.capacity // LEASE_FRACTION))


def bucket_key(scope: str, principal: str) -> str:
    """The item of a principal's bucket: ``{bot}#{owner key}``."""
    return f"{scope}#{principal}"


class RateLimiter(Protocol):
    def check(self, principal: str) -> None:
        """Spend one token of ``principal``'s bucket, or raise ``RateLimitedError``."""


class UnlimitedRateLimiter:
    def check(self, principal: str) -> None:
        return None


@dataclass
class _Lease:
    """Tokens granted by the shared bucket beyond the one just spent, spent locally until ``valid_until`` (the
    limiter's clock, seconds)."""

    tokens: int
    valid_until: float


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
        self._leases: OrderedDict[str, _Lease] = OrderedDict()
        self._lock = threading.Lock()

    def _key(self, principal: str) -> dict[str, Any]:
        return {"pk": {"S": bucket_key(self._scope, principal)}}

    def check(self, principal: str) -> None:
        if not self._limit.enabled:
            return
        if self._spend_leased(principal):
            return
        granted = self._lease(principal)
        with self._lock:
            if granted > 1:
                tau = self._limit.capacity / self._limit.refill_per_second
                self._leases[principal] = _Lease(granted - 1, self._clock() + tau)
                self._leases.move_to_end(principal)
                while len(self._leases) > LEASE_ENTRIES:
                    self._leases.popitem(last=False)

    def _spend_leased(self, principal: str) -> bool:
        with self._lock:
            lease = self._leases.get(principal)
            if lease is None:
                return False
            if lease.tokens <= 0 or lease.valid_until <= self._clock():
                del self._leases[principal]
                return False
            lease.tokens -= 1
            self._leases.move_to_end(principal)
            return True

    def _lease(self, principal: str) -> int:
        """Tokens granted by the shared bucket (>= 1), or raise ``RateLimitedError``."""
        per_token_ms = 1000.0 / self._limit.refill_per_second
        tau_ms = self._limit.capacity * per_token_ms
        wanted = self._limit.lease
        idle_guess = True
        for _ in range(MAX_RACES):
            now_ms = int(self._clock() * 1000)
            increment = math.ceil(wanted * per_token_ms)
            # The bucket is full again at tat; keeping the item longer holds no information.
            expires_at = str(math.ceil(now_ms / 1000 + tau_ms / 1000) + 60)
            if idle_guess:
                update = "SET tat_ms = :new, expires_at = :exp"
                condition = "attribute_not_exists(tat_ms) OR tat_ms <= :now"
                values = {":new": {"N": str(now_ms + increment)}, ":now": {"N": str(now_ms)}}
            else:
                update = "SET tat_ms = tat_ms + :inc, expires_at = :exp"
                condition = "tat_ms > :now AND tat_ms <= :limit"
                values = {
                    ":inc": {"N": str(increment)},
                    ":now": {"N": str(now_ms)},
                    ":limit": {"N": str(int(now_ms + tau_ms - increment))},
                }
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(principal),
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeValues={**values, ":exp": {"N": expires_at}},
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
                return wanted
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise_for_client_error(exc)
                    raise  # pragma: no cover - raise_for_client_error always raises
                old = exc.response.get("Item") or {}
            tat_ms = int(old["tat_ms"]["N"]) if "tat_ms" in old else None
            if tat_ms is None or tat_ms <= now_ms:
                idle_guess = True  # time passed since it was read, or it expired: the idle case
                continue
            idle_guess = False
            free_ms = now_ms + tau_ms - tat_ms  # room left in the burst
            if free_ms >= per_token_ms * wanted:
                continue  # a racing container moved tat: try again on its value
            if free_ms >= per_token_ms:
                wanted = max(1, int(free_ms // per_token_ms))
                continue
            self._refuse(math.ceil((per_token_ms - free_ms) / 1000))
        self._refuse(1)
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _refuse(retry_after: int) -> None:
        retry_after = max(1, retry_after)
        count(MetricName.RATE_LIMITED)
        raise RateLimitedError(
            "too many messages, slow down",
            retry_after_seconds=retry_after,
            details={"retry_after_seconds": retry_after},
        )
