"""Lazy, cached AWS clients: created at first use, once per container, never at import time.

Every client comes from one botocore session (built once): a session per client would load the endpoint
rules, partitions and credential chain again for each service on the first invoke. boto3 is not needed to make
a client, and botocore is imported only when the first client is made.

Endpoints come from boto3's standard ``AWS_ENDPOINT_URL_<SERVICE>`` variables, so the local runtime and the
tests point clients at loopback servers without a single local branch here.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config


def client_config(*, max_attempts: int = 4, connect_timeout: float = 2.0, read_timeout: float = 5.0) -> Config:
    # Standard retry mode backs off on throttling; explicit timeouts keep a slow dependency from eating
    # the 29 s API Gateway integration budget.
    # ``total_max_attempts`` counts the first request too: botocore's ``max_attempts`` key counts retries only,
    # so max_attempts=4 would really send five requests.
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )


@cache
def session() -> Any:
    """The container's one botocore session (region and credentials from Lambda's environment)."""
    import botocore.session

    return botocore.session.get_session()


@cache
def client(service: str, *, max_attempts: int = 4, endpoint_url: str | None = None) -> Any:
    return session().create_client(
        service,
        config=client_config(max_attempts=max_attempts),
        endpoint_url=endpoint_url,
    )
