"""Checking AWS Signature Version 4 on the local data-plane APIs, as IAM does in front of the real ones.

On AWS, ``POST @connections/{id}`` needs a request signed by a principal allowed ``execute-api:ManageConnections``:
nobody else can push a frame into a user's socket. Locally the same holds: only a request signed with the
runtime's credentials (the ones the functions run with) is accepted, so a process on the machine cannot spoof a
frame to another user's connection by posting to the gateway.

The signature is recomputed with botocore's own signer over the headers the client says it signed, and compared
in constant time. The request's time must be within 15 minutes, as AWS requires.
"""

from __future__ import annotations

import hmac
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

MAX_SKEW = timedelta(minutes=15)
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class _Signer(SigV4Auth):  # type: ignore[misc]  # botocore ships no type hints
    def headers_to_sign(self, request: AWSRequest) -> Any:
        # Exactly the headers the client signed (botocore would add host and drop user-agent on its own).
        signed = request.context["signed_headers"]
        headers = super().headers_to_sign(request)
        for name in list(headers.keys()):
            if name not in signed:
                del headers[name]
        for name in signed:
            if name not in headers and name in request.headers:
                headers[name] = request.headers[name]
        return headers


def verify(
    *,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    credentials: ReadOnlyCredentials,
    service: str,
    now: datetime | None = None,
) -> str | None:
    """None when ``headers`` carry a valid signature by ``credentials``; otherwise what AWS would answer."""
    lower = {k.lower(): v for k, v in headers.items()}
    found = _AUTHORIZATION.match(lower.get("authorization", "").strip())
    if found is None:
        return "Missing Authentication Token"
    if not hmac.compare_digest(found["key"], credentials.access_key) or found["service"] != service:
        return "The security token included in the request is invalid."
    amz_date = lower.get("x-amz-date", "")
    try:
        when = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "Signature expired or missing X-Amz-Date."
    if abs((now or datetime.now(UTC)) - when) > MAX_SKEW:
        return "Signature expired: the request time is more than 15 minutes away."
    signed = found["signed"].split(";")
    request = AWSRequest(method=method, url=url, headers={k: v for k, v in lower.items() if k in signed}, data=body)
    request.context["timestamp"] = amz_date
    request.context["signed_headers"] = signed
    signer = _Signer(credentials, service, found["region"])
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, found["signature"]):
        return "The request signature we calculated does not match the signature you provided."
    return None
