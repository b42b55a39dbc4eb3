"""Answers from a Markdown or CSV knowledge base with BM25 retrieval, a score threshold and the source cited."""

from plugins.faq.plugin import FaqPlugin

__all__ = ["FaqPlugin"]
