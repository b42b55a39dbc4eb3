"""moto's server for the local runtime (``python -m local.motoserver -H 127.0.0.1 -p PORT``), with one fix.

moto 5.2.5 backs up every table a ``TransactWriteItems`` touches with ``copy.deepcopy(table)`` before it
applies the transaction, so it can roll back. The cost grows with the table: each conversation turn (one
transaction) deep-copies every item stored so far, and a few thousand turns into a load run each turn costs
hundreds of milliseconds. The backup here copies the table's item index (references, cheap) and deep-copies
only the items the transaction names, which is all a rollback needs: moto replaces items on put and delete,
and mutates in place only on update, whose item is among those named. Anything unexpected falls back to
moto's own full copy.
"""

from __future__ import annotations

import copy
import threading
from collections import defaultdict
from typing import Any

_state = threading.local()


def _named_keys(backend: Any, transact_items: list[dict[str, Any]]) -> dict[str, list[tuple[Any, Any]]]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    keys: dict[str, list[tuple[Any, Any]]] = {}
    for entry in transact_items:
        ((_kind, op),) = entry.items()
        table = backend.tables[op["TableName"]]
        key = op.get("Key") or op.get("Item") or {}
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.has_range_key else None
        keys.setdefault(table.name, []).append((hash_value, range_value))
    return keys


def _table_deepcopy(table: Any, memo: dict[int, Any]) -> Any:
    named = getattr(_state, "named", None)
    if named is None or table.name not in named:
        # Not a transaction backup: the ordinary deep copy (as if __deepcopy__ were not defined).
        rv = table.__reduce_ex__(4)
        return copy._reconstruct(table, memo, *rv)  # type: ignore[attr-defined]
    backup = copy.copy(table)
    if table.has_range_key:
        backup.items = defaultdict(dict, {h: dict(r) for h, r in table.items.items()})
    else:
        backup.items = defaultdict(dict, table.items)
    for hash_value, range_value in named[table.name]:
        if table.has_range_key:
            if range_value in backup.items.get(hash_value, {}):
                backup.items[hash_value][range_value] = copy.deepcopy(backup.items[hash_value][range_value])
        elif hash_value in backup.items:
            backup.items[hash_value] = copy.deepcopy(backup.items[hash_value])
    return backup


def patch() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        try:
            _state.named = _named_keys(self, transact_items)
        except Exception:  # noqa: BLE001 - moto validates the request itself; keep its full backup then
            _state.named = None
        try:
            original(self, transact_items)
        finally:
            _state.named = None

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    Table.__deepcopy__ = _table_deepcopy  # type: ignore[attr-defined]


if __name__ == "__main__":
    from moto.server import main

    patch()
    main()
