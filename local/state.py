"""``clawline dev --state-dir DIR``: conversations that survive a restart of the local runtime.

moto keeps everything in memory, so a restart used to lose every conversation. With a state directory:

- the tables that hold a user's data (conversations, idempotency records, rate-limit buckets) are written to
  ``DIR/<logical id>.jsonl`` when the runtime stops, and loaded back into the new tables when it starts. The
  connections table is not kept: no socket survives a restart;
- field encryption uses a Fernet key kept in ``DIR/fernet.key`` (mode 0600) instead of a moto KMS key, which is
  new on every start and would leave the restored text unreadable.

A snapshot is written on a clean stop (Ctrl-C); a killed runtime keeps the previous one. Each file is written
to a temporary name and renamed, so a crash mid-write never leaves half a snapshot.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: Tables whose items are not worth keeping across a restart (no WebSocket connection outlives the runtime).
EPHEMERAL_TABLES = frozenset({"ConnectionsTable"})
BATCH = 25  # BatchWriteItem's limit
FERNET_SECRET_NAME = "clawline-local/fernet"  # noqa: S105 - the name of a secret, not a secret


def fernet_key(directory: Path) -> str:
    """The state directory's Fernet key, made on first use and readable by its owner only."""
    from cryptography.fernet import Fernet

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "fernet.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(Fernet.generate_key().decode("ascii"))
    return path.read_text(encoding="ascii").strip()


def save(dynamodb: Any, tables: dict[str, str], directory: Path) -> dict[str, int]:
    """Write every kept table's items to ``directory``; returns the item count per logical id."""
    directory.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for logical_id, name in tables.items():
        if logical_id in EPHEMERAL_TABLES:
            continue
        path = directory / f"{logical_id}.jsonl"
        partial = path.with_suffix(".jsonl.partial")
        count = 0
        with partial.open("w", encoding="utf-8") as out:
            for page in dynamodb.get_paginator("scan").paginate(TableName=name):
                for item in page.get("Items", []):
                    out.write(json.dumps(item, separators=(",", ":")) + "\n")
                    count += 1
        partial.replace(path)
        counts[logical_id] = count
    return counts


def load(dynamodb: Any, tables: dict[str, str], directory: Path) -> dict[str, int]:
    """Put the saved items back into the (new, empty) tables; returns the item count per logical id."""
    counts: dict[str, int] = {}
    for logical_id, name in tables.items():
        path = directory / f"{logical_id}.jsonl"
        if logical_id in EPHEMERAL_TABLES or not path.is_file():
            continue
        items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for start in range(0, len(items), BATCH):
            requests: list[Any] = [{"PutRequest": {"Item": item}} for item in items[start : start + BATCH]]
            while requests:
                resp = dynamodb.batch_write_item(RequestItems={name: requests})
                requests = resp.get("UnprocessedItems", {}).get(name, [])
        counts[logical_id] = len(items)
    return counts
