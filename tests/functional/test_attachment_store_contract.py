"""The same assertions against every ``AttachmentStore``: the in-memory one the unit tests use, and S3 (moto's
server), so the fake cannot drift from the adapter it stands for."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from clawline.attachments.s3 import S3AttachmentStore
from clawline.attachments.store import AttachmentStore, InMemoryAttachmentStore
from clawline.aws import client as aws_client
from clawline.aws import session
from tests.helpers.aws import client

Uploader = Callable[[str, bytes, str], None]


@pytest.fixture(params=["memory", "s3"])
def store_and_upload(
    request: pytest.FixtureRequest, moto_server: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[AttachmentStore, Uploader]]:
    if request.param == "memory":
        memory = InMemoryAttachmentStore()

        def put_memory(url: str, data: bytes, content_type: str) -> None:
            assert memory.upload(url, data, content_type=content_type)

        yield memory, put_memory
        return
    bucket = f"contract-{uuid.uuid4().hex[:8]}"
    client("s3", moto_server).create_bucket(Bucket=bucket)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_server)
    aws_client.cache_clear()
    session.cache_clear()

    def put_s3(url: str, data: bytes, content_type: str) -> None:
        assert httpx.put(url, content=data, headers={"Content-Type": content_type}).status_code == 200

    yield S3AttachmentStore(aws_client("s3", signature_version="s3v4"), bucket), put_s3
    aws_client.cache_clear()
    session.cache_clear()


def test_a_missing_object_is_none(store_and_upload: tuple[AttachmentStore, Any]) -> None:
    store, _ = store_and_upload
    assert store.head("uploads/nobody/" + "0" * 32) is None


def test_an_object_put_by_the_function_has_its_size_and_type(store_and_upload: tuple[AttachmentStore, Any]) -> None:
    store, _ = store_and_upload
    store.put("uploads/dev/a", b"hello", content_type="text/plain")
    found = store.head("uploads/dev/a")
    assert found is not None and (found.size, found.content_type) == (5, "text/plain")


def test_a_presigned_put_stores_the_clients_bytes(store_and_upload: tuple[AttachmentStore, Uploader]) -> None:
    store, upload = store_and_upload
    url = store.presign_put("uploads/alice/b", content_type="image/png", size=3, expires_in=60)
    upload(url, b"png", "image/png")
    found = store.head("uploads/alice/b")
    assert found is not None and (found.size, found.content_type) == (3, "image/png")
    assert store.url("uploads/alice/b").endswith("/uploads/alice/b")


def test_an_owners_objects_are_listed_by_prefix_and_deleted(store_and_upload: tuple[AttachmentStore, Any]) -> None:
    store, _ = store_and_upload
    store.put("uploads/erin/a", b"one", content_type="text/plain")
    store.put("uploads/erin/b", b"three", content_type="text/plain")
    store.put("uploads/oscar/c", b"other", content_type="text/plain")
    listed = store.list_prefix("uploads/erin/")
    assert [(o.key, o.size) for o in listed] == [("uploads/erin/a", 3), ("uploads/erin/b", 5)]
    assert all(o.last_modified is not None for o in listed)
    assert store.delete([o.key for o in listed] + ["uploads/erin/never-there"]) == 3
    assert store.list_prefix("uploads/erin/") == []
    assert store.head("uploads/erin/a") is None
    assert [o.key for o in store.list_prefix("uploads/")] == ["uploads/oscar/c"]
