"""Calls an HTTPS endpoint with the turn (HMAC-signed), and uses its reply or slots."""

from plugins.webhook.plugin import WebhookPlugin, signature

__all__ = ["WebhookPlugin", "signature"]
