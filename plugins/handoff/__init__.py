"""Hands the conversation to a human (SNS topic or chat webhook) and pauses the bot until released."""

from plugins.handoff.plugin import HandoffPlugin, release

__all__ = ["HandoffPlugin", "release"]
