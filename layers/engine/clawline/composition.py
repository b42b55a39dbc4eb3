"""The composition root shared by the Lambda functions: settings, clients and adapters, built lazily once.

Handlers call these factories at first invoke. Tests call ``reset()`` after changing the environment.
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clawline.aws import client, session, set_deadline
from clawline.bot.compiled import Bot
from clawline.bot.prebuilt import load_bot
from clawline.conversation import build_turn_models
from clawline.engine import Engine
from clawline.nlu.lazy import lazy_nlu_factory
from clawline.settings import Settings
from clawline.store.dynamodb import DynamoDBConversationStore
from clawline.turns import TurnRunner

if TYPE_CHECKING:
    from clawline.attachments.service import AttachmentService, NoAttachments
    from clawline.channels.connections import DynamoDBConnectionStore
    from clawline.nlu.types import NluBackend
    from clawline.security.encryption import FieldCipher
    from clawline.security.ratelimit import RateLimiter
    from clawline.store.owner_data import DynamoDBOwnerData
    from clawline.store.pairings import DeviceOwners, DynamoDBPairings


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
    return DynamoDBConversationStore(
        dynamodb(),
        cfg.state_table,
        retention_seconds=cfg.retention_days * 86400,
        cipher=cipher(),
        tenant=tenant(),
        invocation_id=invocation_id,
    )


def tenant() -> str:
    """The bot this function serves: the encryption context's tenant and the rate limits' scope."""
    return Path(settings().bot_path).name or "default"


@cache
def cipher() -> FieldCipher | None:
    """The cipher for stored message text and slots, as ``CLAWLINE_ENCRYPTION`` chooses (None: SSE only)."""
    cfg = settings()
    if cfg.encryption == "kms":
        from clawline.security.encryption import KmsEnvelopeCipher

        cfg.require("kms_key_arn")
        assert cfg.kms_key_arn is not None
        return KmsEnvelopeCipher(client("kms"), cfg.kms_key_arn)
    if cfg.encryption == "fernet":
        from clawline.auth.factory import read_secret
        from clawline.security.encryption import FernetCipher

        cfg.require("fernet_secret_name")
        assert cfg.fernet_secret_name is not None
        return FernetCipher(read_secret(cfg.fernet_secret_name))
    return None


@cache
def rate_limiter() -> RateLimiter:
    """Per-principal token bucket (DynamoDB); the bot's own ``rate_limit`` wins over the function's defaults."""

    from clawline.security.ratelimit import (
        DynamoDBRateLimiter,
        RateLimit,
        UnlimitedRateLimiter,
    )

    cfg = settings()
    if not cfg.rate_limit_table:
        return UnlimitedRateLimiter()
    limit = RateLimit(cfg.rate_limit_capacity, cfg.rate_limit_per_second)
    bot_limit = engine().bot.settings.rate_limit
    if bot_limit is not None:
        limit = RateLimit(bot_limit.capacity, bot_limit.refill_per_second)
    if not limit.enabled:
        return UnlimitedRateLimiter()
    return DynamoDBRateLimiter(dynamodb(), cfg.rate_limit_table, limit, scope=tenant())


@cache
def bot() -> Bot:
    """The bot, loaded (from the build's prebuilt definition when fresh, else its YAML) and its rules compiled: needs no
    AWS client, so a SnapStart snapshot can hold it."""
    return load_bot(settings().bot_path)


@cache
def nlu() -> NluBackend | None:
    """The bot's NLU, built on the first turn that classifies: a turn the rules answer never loads numpy."""
    cfg = settings()
    model_dir = Path(cfg.nlu_model_dir) if cfg.nlu_model_dir else None
    return lazy_nlu_factory(cfg.nlu_backend, model_dir)(bot())


@cache
def engine() -> Engine:
    build_turn_models()  # before the first turn builds them in a costlier order (clawline.conversation)
    return Engine(bot(), conversation_store(), window=settings().conversation_window, nlu=nlu())


@cache
def pairings() -> DynamoDBPairings:
    """Device pairings (``clawline.store.pairings``), in the state table."""
    from clawline.store.pairings import DynamoDBPairings

    cfg = settings()
    cfg.require("state_table")
    assert cfg.state_table is not None
    return DynamoDBPairings(dynamodb(), cfg.state_table)


@cache
def device_owners() -> DeviceOwners:
    """thing -> owner key (the paired user's, or the thing's own), cached per container."""
    from clawline.store.pairings import DeviceOwners

    return DeviceOwners(pairings())


@cache
def connection_store() -> DynamoDBConnectionStore:
    """WebSocket connection records (imported by the functions that use them: MQTT's never does)."""
    from clawline.channels.connections import DynamoDBConnectionStore

    cfg = settings()
    cfg.require("connections_table")
    assert cfg.connections_table is not None
    return DynamoDBConnectionStore(dynamodb(), cfg.connections_table, ttl_seconds=cfg.connection_ttl_seconds)


@cache
def attachments() -> AttachmentService | NoAttachments:
    """Uploads and message attachments (``CLAWLINE_ATTACHMENT_BUCKET``); imported on the first turn that has some."""
    from clawline.attachments.service import AttachmentService, NoAttachments

    cfg = settings()
    if not cfg.attachment_bucket:
        return NoAttachments()
    from clawline.attachments.limits import AttachmentLimits
    from clawline.attachments.s3 import S3AttachmentStore

    # SigV4: the presigned PUT signs Content-Length and Content-Type, so S3 itself refuses any other upload.
    s3 = client("s3", signature_version="s3v4")
    return AttachmentService(
        S3AttachmentStore(s3, cfg.attachment_bucket),
        AttachmentLimits(max_bytes=cfg.attachment_max_bytes, inline_max_bytes=cfg.attachment_inline_max_bytes),
        upload_ttl_seconds=cfg.attachment_upload_ttl_seconds,
    )


@cache
def owner_data() -> DynamoDBOwnerData:
    """Everything stored about an owner, for the data-rights routes (HTTP function only): the tables, and the
    uploads bucket when there is one."""
    from clawline.attachments.service import AttachmentService
    from clawline.security.ratelimit_records import DynamoDBRateLimitRecords
    from clawline.store.owner_data import DynamoDBOwnerData

    cfg = settings()
    service = attachments()
    return DynamoDBOwnerData(
        conversation_store(),
        pairings(),
        connections=connection_store() if cfg.connections_table else None,
        rate_limits=DynamoDBRateLimitRecords(dynamodb(), cfg.rate_limit_table, scope=tenant())
        if cfg.rate_limit_table
        else None,
        uploads=service.store if isinstance(service, AttachmentService) else None,
    )


#: The invocation being handled. A context variable: the local runtime runs several invocations at once in one
#: process, and a turn runs in a worker thread (HTTP) that copies the context.
_lambda_context: ContextVar[Any] = ContextVar("clawline_lambda_context", default=None)


def invocation_id() -> str | None:
    """The current invocation's request id (Lambda keeps it across the retries of an asynchronous event)."""
    return str(getattr(_lambda_context.get(), "aws_request_id", "") or "") or None


@cache
def turn_runner() -> TurnRunner:
    return TurnRunner(engine(), invocation_id=invocation_id)


def register_lambda_context(context: Any) -> None:
    """Remember the invocation: its request id marks the turns it stores, its deadline bounds AWS calls."""
    _lambda_context.set(context)
    set_deadline(context)


def reset() -> None:
    """Forget every cached object (tests change the environment between cases)."""
    from clawline.auth.factory import verifier

    for factory in (
        settings,
        conversation_store,
        connection_store,
        bot,
        nlu,
        engine,
        turn_runner,
        cipher,
        rate_limiter,
        attachments,
        pairings,
        device_owners,
        owner_data,
        verifier,
    ):
        factory.cache_clear()
    client.cache_clear()
    session.cache_clear()
    _lambda_context.set(None)
    set_deadline(None)
