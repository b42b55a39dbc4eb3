"""The error hierarchy shared by the engine and every channel adapter.

Channels map these types (never message strings) to their own answer: an HTTP status, a WebSocket error
frame, an MQTT error reply or a dead-letter record. ``code`` is stable and goes into every error body.
"""

from __future__ import annotations


class ClawlineError(Exception):
    """Base class of every error Clawline raises on purpose."""

    code = "internal_error"
    http_status = 500
    #: A retryable error is raised out of asynchronous triggers so that Lambda retries the event;
    #: a permanent one is recorded and swallowed, since a retry would fail the same way.
    retryable = False

    def __init__(self, message: str, *, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_body(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class InvalidInputError(ClawlineError):
    """The caller sent something we will never accept (bad JSON, unknown field, bad size)."""

    code = "invalid_input"
    http_status = 422


class PayloadTooLargeError(InvalidInputError):
    code = "payload_too_large"
    http_status = 413


class AuthenticationError(ClawlineError):
    code = "unauthorized"
    http_status = 401


class ForbiddenError(ClawlineError):
    code = "forbidden"
    http_status = 403


class NotFoundError(ClawlineError):
    code = "not_found"
    http_status = 404


class ConflictError(ClawlineError):
    """A conditional write lost a race (optimistic locking); the turn may be retried."""

    code = "conflict"
    http_status = 409
    retryable = True


class RateLimitedError(ClawlineError):
    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after_seconds: int, details: dict[str, object] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after_seconds = retry_after_seconds


class RetryableError(ClawlineError):
    """A dependency failed in a way that may pass on retry (throttling, timeout)."""

    code = "temporarily_unavailable"
    http_status = 503
    retryable = True


class ConfigurationError(ClawlineError):
    """The bot definition or the function's settings are wrong; raised at load time."""

    code = "configuration_error"
    http_status = 500
