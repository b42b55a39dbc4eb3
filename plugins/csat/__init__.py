"""Asks for a satisfaction rating at the end of a conversation and records it as a metric."""

from plugins.csat.plugin import CsatPlugin

__all__ = ["CsatPlugin"]
