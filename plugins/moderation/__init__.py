"""Block lists plus Amazon Comprehend toxicity detection: refuses or masks a message before NLU."""

from plugins.moderation.plugin import ModerationPlugin

__all__ = ["ModerationPlugin"]
