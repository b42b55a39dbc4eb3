"""Built-in chit-chat: greetings, thanks, goodbyes, "how are you", "who are you", "are you a bot"."""

from plugins.small_talk.plugin import SmallTalkPlugin

__all__ = ["SmallTalkPlugin"]
