"""Counts what a turn asks of AWS: requests by operation, DynamoDB capacity units, and KMS calls.

Every request any botocore client makes in this process is recorded (``BaseClient._make_api_call`` is wrapped),
so nothing a handler, the engine or a plugin sends is missed. DynamoDB units are **computed from the items by
DynamoDB's documented size rules** (moto's ``ReturnConsumedCapacity`` answers a constant, so it is not used):

- item size = sum over attributes of len(name) + value size: S = UTF-8 bytes, B = bytes, N = 1 byte per two
  significant digits + 1, BOOL/NULL = 1, L/M = 3 + their elements (each element + 1 byte);
- a write (PutItem, UpdateItem, DeleteItem) costs ceil(item size / 1 KB) write units (1 at least), of the larger
  of the old and the new item (the new item, for the writes a turn makes: it creates items or rewrites a small
  fixed-size one); TransactWriteItems costs twice that per item;
- a read (GetItem) costs ceil(item size / 4 KB) read units, a Query ceil(sum of the returned items / 4 KB)
  (1 at least), and half of that when eventually consistent.

https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from botocore.client import BaseClient

WRITES = {"PutItem", "UpdateItem", "DeleteItem"}


def value_size(value: dict[str, Any]) -> int:
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode("utf-8"))
    if kind == "B":
        return len(raw if isinstance(raw, bytes | bytearray) else str(raw).encode())
    if kind == "N":
        digits = str(Decimal(str(raw)).normalize()).lstrip("-").replace(".", "").lstrip("0") or "0"
        digits = digits.split("E")[0]
        return math.ceil(len(digits) / 2) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in raw)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) + 1 for k, v in raw.items())
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: v}) for v in raw)
    raise ValueError(kind)


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


@dataclass
class Call:
    service: str
    operation: str
    write_units: float = 0.0
    read_units: float = 0.0
    item_bytes: int = 0

    @property
    def name(self) -> str:
        return f"{self.service}.{self.operation}"


@dataclass
class Meter:
    calls: list[Call] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def mark(self) -> int:
        with self.lock:
            return len(self.calls)

    def since(self, mark: int) -> list[Call]:
        with self.lock:
            return list(self.calls[mark:])


def operations(calls: list[Call]) -> Counter[str]:
    return Counter(c.name for c in calls)


def units(calls: list[Call]) -> tuple[float, float]:
    """(read units, write units) of the DynamoDB calls."""
    return sum(c.read_units for c in calls), sum(c.write_units for c in calls)


def _account(service: str, operation: str, params: dict[str, Any], response: dict[str, Any]) -> Call:
    call = Call(service, operation)
    if service != "dynamodb":
        return call
    if operation in WRITES:
        item = params.get("Item") or {**params.get("Key", {}), **(response.get("Attributes") or {})}
        if operation == "UpdateItem":
            # The new item: the key and every value the update sets (the items a turn updates are that small).
            item = {**params.get("Key", {}), **params.get("ExpressionAttributeValues", {})}
        call.item_bytes = item_size(item)
        call.write_units = max(1, math.ceil(call.item_bytes / 1024))
    elif operation == "TransactWriteItems":
        sizes = [item_size(next(iter(op.values())).get("Item") or {}) for op in params.get("TransactItems", [])]
        call.item_bytes = sum(sizes)
        call.write_units = sum(2 * max(1, math.ceil(s / 1024)) for s in sizes)
    elif operation in ("GetItem", "Query"):
        items = [response["Item"]] if response.get("Item") else list(response.get("Items", []))
        call.item_bytes = sum(item_size(i) for i in items)
        factor = 1.0 if params.get("ConsistentRead") else 0.5
        call.read_units = max(1, math.ceil(call.item_bytes / 4096)) * factor
    return call


@contextmanager
def metering() -> Iterator[Meter]:
    """Record every AWS request made in this process while the block runs."""
    meter = Meter()
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        service = self.meta.service_model.service_name
        try:
            response = original(self, operation_name, api_params)
        except Exception as exc:
            failed = getattr(exc, "response", {}) or {}
            with meter.lock:
                meter.calls.append(_account(service, operation_name, api_params, failed))
            raise
        with meter.lock:
            meter.calls.append(_account(service, operation_name, api_params, response))
        return response

    BaseClient._make_api_call = recording  # type: ignore[method-assign]
    try:
        yield meter
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]
