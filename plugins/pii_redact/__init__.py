"""Redacts personal data from the message before NLU and storage, with the engine's own masking rules."""

from plugins.pii_redact.plugin import PiiRedactPlugin

__all__ = ["PiiRedactPlugin"]
