"""The uploads bucket (S3): presigned PUTs, HeadObject checks and inline writes.

Why a presigned PUT with ``Content-Length`` and ``Content-Type`` among its signed headers, and not a presigned
POST with a ``content-length-range`` policy: both make S3 itself refuse a wrong upload, but the PUT pins the
exact length the route approved (a POST policy only bounds it), is one plain request for any client (``fetch``,
``curl -T``, a phone's HTTP stack; no multipart form), and S3 answers a different length or type with
``403 SignatureDoesNotMatch`` before storing anything. SigV4 is required for that: SigV2 query signatures (still
botocore's default for S3 presigns) do not cover ``Content-Length``.

Errors are mapped by code, never by message text. HeadObject has no error body, so its code is the HTTP status:
``404``, or ``403`` (S3 answers a missing key with 403 to a role without ``s3:ListBucket``: only the HTTP function
has it, on ``uploads/`` alone, to list an owner's uploads for data rights).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from clawline.attachments.store import ListedObject, StoredObject
from clawline.errors import RetryableError

_MISSING = frozenset({"404", "403", "NoSuchKey", "NotFound", "AccessDenied", "Forbidden"})
#: DeleteObjects takes at most this many keys per request.
DELETE_BATCH = 1000
_RETRYABLE = frozenset({"500", "503", "SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"})


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


@contextmanager
def _store_errors() -> Iterator[None]:
    """S3's transient failures as ``RetryableError`` (the caller answers "try again"); anything else as raised."""
    try:
        yield
    except ClientError as exc:
        if _code(exc) in _RETRYABLE:
            raise RetryableError("the attachment store is busy, try again") from exc
        raise
    except BotoCoreError as exc:  # timeouts, connection errors: the same request may pass in a moment
        raise RetryableError("the attachment store did not answer, try again") from exc


class S3AttachmentStore:
    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self.bucket = bucket

    def presign_put(self, key: str, *, content_type: str, size: int, expires_in: int) -> str:
        url: str = self._s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self.bucket, "Key": key, "ContentType": content_type, "ContentLength": size},
            ExpiresIn=expires_in,
            HttpMethod="PUT",
        )
        return url

    def head(self, key: str) -> StoredObject | None:
        try:
            with _store_errors():
                found = self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise
        return StoredObject(size=int(found["ContentLength"]), content_type=found.get("ContentType"))

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        with _store_errors():
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def list_prefix(self, prefix: str) -> list[ListedObject]:
        found: list[ListedObject] = []
        with _store_errors():
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                found.extend(
                    ListedObject(o["Key"], int(o.get("Size", 0)), o.get("LastModified"))
                    for o in page.get("Contents", [])
                )
        return found

    def delete(self, keys: list[str]) -> int:
        with _store_errors():
            for start in range(0, len(keys), DELETE_BATCH):
                batch = keys[start : start + DELETE_BATCH]
                resp = self._s3.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                )
                # Quiet mode lists only the keys it could not delete (throttled, internal errors): try again later.
                if resp.get("Errors"):
                    raise RetryableError(
                        "some attachments could not be deleted, try again",
                        details={"failed": len(resp["Errors"])},
                    )
        return len(keys)
