"""The sample plugin: approves a message when NLU is confident enough, rejects it otherwise."""

from plugins.sample.plugin import SamplePlugin

__all__ = ["SamplePlugin"]
