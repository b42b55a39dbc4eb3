"""The attachment store port and its in-memory implementation (tests, ``clawline chat``).

The S3 adapter is ``clawline.attachments.s3``; ``tests/functional/test_attachment_store_contract.py`` runs the
same assertions against both.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StoredObject:
    size: int
    content_type: str | None


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


class InMemoryAttachmentStore:
    """Objects in a dict. ``presign_put`` gives a ``memory://`` URL that ``upload`` plays the part of S3 for."""

    def __init__(self) -> None:
        self._objects: dict[str, tuple[bytes, str]] = {}
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
        return True

    def head(self, key: str) -> StoredObject | None:
        with self._lock:
            found = self._objects.get(key)
        return StoredObject(size=len(found[0]), content_type=found[1]) if found else None

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        with self._lock:
            self._objects[key] = (data, content_type)

    def url(self, key: str) -> str:
        return f"memory://uploads/{key}"

    def read(self, key: str) -> bytes | None:
        with self._lock:
            found = self._objects.get(key)
        return found[0] if found else None
