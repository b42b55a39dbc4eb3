"""The composition root shared by the Lambda functions: settings, clients and adapters, built lazily once.

Handlers call these factories at first invoke. Tests call ``reset()`` after changing the environment.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from clawline.aws import client
from clawline.engine import Bot, Engine
from clawline.settings import Settings
from clawline.store.dynamodb import DynamoDBConversationStore
from clawline.turns import TurnRunner


@cache
def settings() -> Settings:
    return Settings.from_environ()


def dynamodb() -> Any:
    return client("dynamodb", max_attempts=settings().dynamodb_max_attempts)


@cache
def conversation_store() -> DynamoDBConversationStore:
    cfg = settings()
    cfg.require("state_table")
    assert cfg.state_table is not None
    return DynamoDBConversationStore(dynamodb(), cfg.state_table, retention_seconds=cfg.retention_days * 86400)


@cache
def engine() -> Engine:
    cfg = settings()
    return Engine(Bot.load(cfg.bot_path), conversation_store(), window=cfg.conversation_window)


@cache
def idempotency_store() -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    cfg = settings()
    cfg.require("idempotency_table")
    assert cfg.idempotency_table is not None
    return DynamoDBPersistenceLayer(table_name=cfg.idempotency_table, boto3_client=dynamodb())


@cache
def turn_runner() -> TurnRunner:
    cfg = settings()
    return TurnRunner(engine(), persistence_store=idempotency_store(), ttl_seconds=cfg.idempotency_ttl_seconds)


def reset() -> None:
    """Forget every cached object (tests change the environment between cases)."""
    for factory in (settings, conversation_store, engine, idempotency_store, turn_runner):
        factory.cache_clear()
    client.cache_clear()
