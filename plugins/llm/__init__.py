"""Generative fallback and rephrasing through Amazon Bedrock (Converse) or an OpenAI-compatible endpoint."""

from plugins.llm.plugin import LlmPlugin

__all__ = ["LlmPlugin"]
