"""Function settings, read from the environment once, at first invoke (never at import time).

Every field maps to an environment variable ``CLAWLINE_<FIELD>`` (upper case). A missing required one
fails with a pydantic ``ValidationError`` that names the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from clawline.messages import DEFAULT_MAX_TEXT_BYTES

PREFIX = "CLAWLINE_"


def default_bot_path() -> str:
    """The bot shipped in the bot layer in Lambda (/opt/bots/default), or the repo's bots/default locally."""
    layer = Path("/opt/bots/default")
    if layer.is_dir():
        return str(layer)
    return str(Path(__file__).resolve().parents[3] / "bots" / "default")


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    bot_path: str = Field(default_factory=default_bot_path)
    state_table: str | None = None
    connections_table: str | None = None
    max_text_bytes: int = Field(default=DEFAULT_MAX_TEXT_BYTES, ge=1, le=128 * 1024)
    conversation_window: int = Field(default=10, ge=0, le=100)
    retention_days: int = Field(default=30, ge=1, le=3650)
    reply_topic: str = "clawline/{thing}/out"
    #: The WebSocket API's @connections endpoint (https://{api}.execute-api.{region}.amazonaws.com/{stage}), for
    #: the functions that push without an incoming WebSocket event to read it from (the reminder function).
    websocket_endpoint: str | None = None
    connection_ttl_seconds: int = Field(default=7200 + 300, ge=60)
    dynamodb_max_attempts: int = Field(default=4, ge=1, le=10)
    dead_letter_queue_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwks_url: str | None = None
    jwt_algorithms: str = "RS256"
    jwt_secret_name: str | None = None
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=60)
    jwks_refetch_cooldown_seconds: float = Field(default=60.0, ge=1, le=3600)
    #: Scope a token needs for the admin routes (Cognito resource-server scopes look like ``clawline/admin``).
    admin_scope: str = "clawline/admin"
    #: Per-principal token bucket: ``capacity`` messages at once, refilled at ``rate_limit_per_second``
    #: (0 disables). A bot may set its own in bot.yaml; these are the function-wide defaults. Without a
    #: table there is no per-principal limit (only API Gateway's stage throttling).
    rate_limit_table: str | None = None
    rate_limit_capacity: int = Field(default=20, ge=0, le=100_000)
    rate_limit_per_second: float = Field(default=1.0, ge=0, le=10_000)
    #: NLU classifier: ``linear`` (numpy only, in the engine layer) or ``embedding`` (onnxruntime and the
    #: sentence-embedding model from the NLU embedding layer; the template sets it when that layer is attached).
    nlu_backend: Literal["linear", "embedding"] = "linear"
    #: The embedding model's directory (default: /opt/clawline-nlu/minilm in Lambda, build/nlu/minilm locally).
    nlu_model_dir: str | None = None
    #: Encryption of stored message text and slots: ``none``, ``kms`` (envelope) or ``fernet``.
    encryption: Literal["none", "kms", "fernet"] = "none"
    kms_key_arn: str | None = None
    fernet_secret_name: str | None = None
    #: Attachments (clawline.attachments): the uploads bucket (none: messages carry no attachments), the largest
    #: upload ``POST /v1/uploads`` presigns, how long its URL works, and the largest inline MQTT payload (decoded
    #: bytes per message; base64 and the rest of the message must fit IoT Core's 128 KB).
    attachment_bucket: str | None = None
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1, le=5 * 1024**3)
    attachment_upload_ttl_seconds: int = Field(default=300, ge=60, le=3600)
    attachment_inline_max_bytes: int = Field(default=64 * 1024, ge=0, le=64 * 1024)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {k[len(PREFIX) :].lower(): v for k, v in env.items() if k.startswith(PREFIX)}
        return cls.model_validate(values)

    def require(self, *names: str) -> None:
        """Fail naming the environment variable when a setting this function needs is absent."""
        missing = [f"{PREFIX}{n.upper()}" for n in names if not getattr(self, n)]
        if missing:
            from clawline.errors import ConfigurationError

            raise ConfigurationError(f"missing required environment variable(s): {', '.join(missing)}")
