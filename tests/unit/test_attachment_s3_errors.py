"""How the S3 attachment store reports S3's errors, with botocore's Stubber answering as S3 documents its errors
(only AWS decides when it throttles): transient ones become "try again", a missing object is no object, anything
else is raised as it came."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from clawline.attachments.s3 import S3AttachmentStore
from clawline.errors import RetryableError


def store() -> tuple[S3AttachmentStore, Stubber]:
    client = boto3.session.Session().client(
        "s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    return S3AttachmentStore(client, "uploads"), Stubber(client)


def test_a_throttled_request_is_retryable_on_every_operation() -> None:
    s3, stub = store()
    stub.add_client_error("head_object", service_error_code="SlowDown", http_status_code=503)
    stub.add_client_error("put_object", service_error_code="InternalError", http_status_code=500)
    stub.add_client_error("list_objects_v2", service_error_code="SlowDown", http_status_code=503)
    stub.add_client_error("delete_objects", service_error_code="ServiceUnavailable", http_status_code=503)
    with stub:
        with pytest.raises(RetryableError):
            s3.head("uploads/a/1")
        with pytest.raises(RetryableError):
            s3.put("uploads/a/1", b"x", content_type="image/png")
        with pytest.raises(RetryableError):
            s3.list_prefix("uploads/a/")
        with pytest.raises(RetryableError):
            s3.delete(["uploads/a/1"])


def test_a_missing_object_is_none_and_a_refusal_is_raised_as_it_came() -> None:
    s3, stub = store()
    # HeadObject has no body: S3 answers a missing key with a bare 404 (403 without ListBucket).
    stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
    stub.add_client_error("put_object", service_error_code="AccessDenied", http_status_code=403)
    with stub:
        assert s3.head("uploads/a/missing") is None
        with pytest.raises(ClientError) as refused:
            s3.put("uploads/a/1", b"x", content_type="image/png")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
