"""Amazon Comprehend sentiment on every message: a slot for rules, and an escalation when it turns negative."""

from plugins.sentiment.plugin import SentimentPlugin

__all__ = ["SentimentPlugin"]
