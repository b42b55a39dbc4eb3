"""Amazon Translate: understands the user in their language and replies in it."""

from plugins.translate.plugin import TranslatePlugin

__all__ = ["TranslatePlugin"]
