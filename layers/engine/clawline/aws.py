"""Lazy, cached AWS clients: created at first use, once per container, never at import time.

Endpoints come from boto3's standard ``AWS_ENDPOINT_URL_<SERVICE>`` variables, so the local runtime and the
tests point clients at loopback servers without a single local branch here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.config import Config


def client_config(*, max_attempts: int = 4, connect_timeout: float = 2.0, read_timeout: float = 5.0) -> Config:
    # Standard retry mode backs off on throttling; explicit timeouts keep a slow dependency from eating
    # the 29 s API Gateway integration budget.
    # ``total_max_attempts`` counts the first request too: botocore's ``max_attempts`` key counts retries only,
    # so max_attempts=4 would really send five requests.
    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )


@cache
def client(service: str, *, max_attempts: int = 4, endpoint_url: str | None = None) -> Any:
    import boto3  # deferred: boto3 costs tens of milliseconds to import

    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        config=client_config(max_attempts=max_attempts),
        endpoint_url=endpoint_url,
    )
