"""Fixtures for the first-party plugins' tests: moto's server on loopback for the AWS services moto implements,
and fresh, region-pinned botocore clients (``clawline.aws.client`` is cached per process) for every test, so a
botocore ``Stubber`` attached in a test is the one the plugin's ``ctx.aws(...)`` uses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer

from clawline import aws


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and a region; no endpoint (Stubber tests never send a request)."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    aws.client.cache_clear()
    yield
    aws.client.cache_clear()


@pytest.fixture
def moto(aws_env: None, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every AWS client goes to moto's server (the standard ``AWS_ENDPOINT_URL`` variable)."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    aws.client.cache_clear()
    return moto_endpoint
