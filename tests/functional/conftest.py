"""Functional fixtures: moto's server on a loopback port (started once per session), fresh tables created
from template.yaml's own definitions for every test, and the handlers' environment pointed at them through
the standard ``AWS_ENDPOINT_URL_*`` variables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from clawline import composition
from local.template import Template, create_buckets, create_tables
from tests.helpers.aws import Recorder, client, serve_recorder
from tests.helpers.tokens import Issuer


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def template() -> Template:
    return Template.read()


@dataclass
class Stack:
    endpoint: str
    tables: dict[str, str]
    dead_letter_queue_url: str
    recorder: Recorder
    buckets: dict[str, str]

    def dynamodb(self) -> Any:
        return client("dynamodb", self.endpoint)

    def dead_letters(self) -> list[dict[str, Any]]:
        import json

        sqs = client("sqs", self.endpoint)
        out: list[dict[str, Any]] = []
        while True:
            msgs = sqs.receive_message(QueueUrl=self.dead_letter_queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not msgs:
                return out
            out.extend(json.loads(m["Body"]) for m in msgs)
            for m in msgs:
                sqs.delete_message(QueueUrl=self.dead_letter_queue_url, ReceiptHandle=m["ReceiptHandle"])

    def count_items(self, logical_id: str) -> int:
        return int(self.dynamodb().scan(TableName=self.tables[logical_id], Select="COUNT")["Count"])


def table_variables(template: Template, type_name: str = "AWS::DynamoDB::Table") -> dict[str, str]:
    """Environment variables the template sets to a table's name (``!Ref`` of a DynamoDB table, or another type)."""
    tables = template.of_type(type_name)
    envs = [(template.data.get("Globals", {}).get("Function", {}).get("Environment") or {}).get("Variables") or {}]
    envs += [
        ((res.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        for res in template.of_type("AWS::Serverless::Function").values()
    ]
    return {
        var: value["Ref"]
        for variables in envs
        for var, value in variables.items()
        if isinstance(value, dict) and value.get("Ref") in tables
    }


@pytest.fixture
def stack(moto_server: str, template: Template, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A fresh copy of the template's state (tables, dead-letter queue) and the handlers wired to it."""
    suffix = f"-{uuid.uuid4().hex[:8]}"
    tables = create_tables(client("dynamodb", moto_server), template, suffix=suffix)
    queue_url = client("sqs", moto_server).create_queue(QueueName=f"dlq{suffix}")["QueueUrl"]
    buckets = create_buckets(client("s3", moto_server), template, suffix=suffix)
    recorder = Recorder()
    recorder_gen = serve_recorder(recorder)
    recorder_url = next(recorder_gen)
    env = {
        "AWS_ENDPOINT_URL_DYNAMODB": moto_server,
        "AWS_ENDPOINT_URL_SQS": moto_server,
        "AWS_ENDPOINT_URL_S3": moto_server,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": moto_server,
        "AWS_ENDPOINT_URL_SSM": moto_server,
        "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": f"{recorder_url}/dev",
        "AWS_ENDPOINT_URL_IOT_DATA_PLANE": recorder_url,
        "CLAWLINE_DEAD_LETTER_QUEUE_URL": queue_url,
        # Every table variable the template wires (CLAWLINE_STATE_TABLE: !Ref StateTable, ...), so a table
        # added to the template reaches the handlers here too.
        **{var: tables[logical_id] for var, logical_id in table_variables(template).items()},
        # And every bucket variable (CLAWLINE_ATTACHMENT_BUCKET: !Ref AttachmentsBucket).
        **{var: buckets[logical_id] for var, logical_id in table_variables(template, "AWS::S3::Bucket").items()},
    }
    # Nothing another test (or the shell) set may leak in: the template's wiring is the whole configuration.
    for key in [k for k in os.environ if k.startswith("CLAWLINE_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    composition.reset()
    yield Stack(moto_server, tables, queue_url, recorder, buckets)
    composition.reset()
    next(recorder_gen, None)


@pytest.fixture
def state_table(moto_server: str) -> Iterator[tuple[Any, str]]:
    """A fresh conversation-state table (``pk`` S hash + ``sk`` S range) on the moto server.

    Yields ``(dynamodb_client, table_name)``; the table is deleted afterwards.
    """
    dynamodb = client("dynamodb", moto_server)
    name = f"state-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    yield dynamodb, name
    dynamodb.delete_table(TableName=name)


@pytest.fixture
def issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Issuer]:
    """An RS256 issuer whose JWKS is served on loopback; the functions are configured to trust it."""
    issuer = Issuer()
    with issuer.serve_jwks() as jwks_url:
        monkeypatch.setenv("CLAWLINE_JWKS_URL", jwks_url)
        monkeypatch.setenv("CLAWLINE_JWT_ISSUER", issuer.issuer)
        monkeypatch.setenv("CLAWLINE_JWT_AUDIENCE", issuer.audience)
        monkeypatch.setenv("CLAWLINE_JWT_ALGORITHMS", "RS256")
        composition.reset()
        yield issuer
    composition.reset()
