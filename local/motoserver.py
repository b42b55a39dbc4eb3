"""moto's server for the local runtime (``python -m local.motoserver -H 127.0.0.1 -p PORT``), with two fixes.

**A Query reads its partition, not the table.** moto 5.2.5 answers a base-table ``Query`` by listing and sorting
every item of the table (``Table.all_items``) and then keeping the partition asked for: O(table) per turn. A load
run stores 10 turns per conversation, so after a few thousand turns each turn's Query sorts thousands of items
(measured on this machine: 15 Query + PutItem pairs per second on an empty table, 3 at 4,000 items, 1 at 20,000).
Here the Query path sees only the partition it names (``items[hash_key]``), which is what DynamoDB reads; the
result (order, Limit, ExclusiveStartKey, key conditions) is unchanged because moto filters and sorts that same
subset. Index queries and scans keep moto's own path.

**Transactions back up what they touch.** moto 5.2.5 backs up every table a ``TransactWriteItems`` touches
with ``copy.deepcopy(table)`` before it applies the transaction, so it can roll back. The cost grows with the
table: a transaction deep-copies every item stored so far, a few thousand turns into a load run hundreds of
milliseconds each (turns no longer use transactions; other writers may). The backup here copies the table's
item index (references, cheap) and deep-copies only the items the transaction names, which is all a rollback
needs: moto replaces items on put and delete, and mutates in place only on update, whose item is among those
named. Anything unexpected falls back to moto's own full copy.
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


def patch_partition_query() -> None:
    """``Table.query`` on the base table lists the queried partition only (see the module docstring)."""
    from moto.dynamodb.models.table import Table

    original_query = Table.query
    original_all_items = Table.all_items

    def all_items(self: Any) -> list[Any]:
        partition = getattr(_state, "partition", None)
        if partition is None or partition[0] is not self:
            return original_all_items(self)
        found = self.items.get(partition[1])  # .get: the items map is a defaultdict; a miss must not add a key
        if found is None:
            return []
        return sorted(found.values(), key=lambda x: x.range_key) if self.range_key_attr else [found]

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        _state.partition = (self, hash_key)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _state.partition = None

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]


def patch() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    patch_partition_query()

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
