"""The attachment store port and its in-memory implementation (tests, ``clawline chat``).

The S3 adapter is ``clawline.attachments.s3``; ``tests/functional/test_attachment_store_contract.py`` runs the
same assertions against both.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str | None


@dataclass(frozen=True)
class ListedObject:
    """An object found under a prefix (data rights: export lists an owner's uploads, erase deletes them)."""

    key: str
    size: int
    last_modified: datetime | None


class AttachmentStore(Protocol):
    def presign_put(self, key: str, *, content_type: str, size: int, expires_in: int) -> str:
        """A URL that accepts one PUT of exactly ``size`` bytes of ``content_type`` at ``key``."""
        ...

    def head(self, key: str) -> StoredObject | None:
        """The object's size and type, or None when there is none (or it may not be read)."""
        ...

    def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    def url(self, key: str) -> str:
        """Where the object is, for plugins (``s3://bucket/key``)."""
        ...

    def list_prefix(self, prefix: str) -> list[ListedObject]:
        """Every object under ``prefix``, in key order."""
        ...

    def delete(self, keys: list[str]) -> int:
        """Delete these objects (a missing one is no error); how many were asked for."""
        ...


class InMemoryAttachmentStore:
    """Objects in a dict. ``presign_put`` gives a ``memory://`` URL that ``upload`` plays the part of S3 for."""

    def __init__(self) -> None:
        self._objects: dict[str, tuple[bytes, str]] = {}
        self._modified: dict[str, datetime] = {}
        self._signed: dict[str, tuple[str, str, int]] = {}
        self._lock = threading.Lock()

    def presign_put(self, key: str, *, content_type: str, size: int, expires_in: int) -> str:
        url = f"memory://uploads/{key}?expires_in={expires_in}"
        with self._lock:
            self._signed[url] = (key, content_type, size)
        return url

    def upload(self, url: str, data: bytes, *, content_type: str) -> bool:
        """What S3 does with a presigned PUT: stored only if length and type are the signed ones."""
        with self._lock:
            signed = self._signed.get(url)
            if signed is None or signed[1] != content_type or signed[2] != len(data):
                return False
            self._objects[signed[0]] = (data, content_type)
            self._modified[signed[0]] = datetime.now(UTC)
        return True

    def head(self, key: str) -> StoredObject | None:
        with self._lock:
            found = self._objects.get(key)
        return StoredObject(size=len(found[0]), content_type=found[1]) if found else None

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        with self._lock:
            self._objects[key] = (data, content_type)
            self._modified[key] = datetime.now(UTC)

    def list_prefix(self, prefix: str) -> list[ListedObject]:
        with self._lock:
            return [
                ListedObject(key, len(data), self._modified.get(key))
                for key, (data, _type) in sorted(self._objects.items())
                if key.startswith(prefix)
            ]

    def delete(self, keys: list[str]) -> int:
        with self._lock:
            for key in keys:
                self._objects.pop(key, None)
                self._modified.pop(key, None)
        return len(keys)

    def url(self, key: str) -> str:
        return f"memory://uploads/{key}"

    def read(self, key: str) -> bytes | None:
        with self._lock:
            found = self._objects.get(key)
        return found[0] if found else None
