"""Chit-chat any bot can include: a message that is *only* small talk ("hi!", "thanks a lot", "are you a bot?")
gets a short answer before NLU, and the turn ends there; anything with more in it goes on to the bot's rules.

Matching is on the whole normalised message (lower case, punctuation dropped), so "hi, I want to cancel my
order" is not small talk. No network, no AWS: it costs nothing but a dictionary look-up per message.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from clawline.plugins.base import PluginResult, TurnContext

#: Topic -> (phrases, answers). Answers rotate by turn so a chatty user does not hear the same line twice.
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "greeting": (
        ("hi", "hello", "hey", "hi there", "hello there", "hey there", "good morning", "good afternoon",
         "good evening", "howdy", "hiya", "greetings"),
        ("Hello! How can I help?", "Hi there! What can I do for you?"),
    ),
    "thanks": (
        ("thanks", "thank you", "thanks a lot", "thank you very much", "many thanks", "cheers", "thx", "ty",
         "thanks so much", "much appreciated"),
        ("You're welcome!", "Glad I could help."),
    ),
    "goodbye": (
        ("bye", "goodbye", "bye bye", "see you", "see you later", "good night", "see ya", "later", "farewell"),
        ("Goodbye! Come back any time.", "Bye, have a nice day!"),
    ),
    "how_are_you": (
        ("how are you", "how are you doing", "how is it going", "hows it going", "how do you do", "whats up",
         "sup"),
        ("I'm doing well, thanks for asking! How can I help?",),
    ),
    "who_are_you": (
        ("who are you", "what are you", "what is your name", "whats your name", "what can you do"),
        ("I'm a virtual assistant. Ask me a question and I'll do my best to help.",),
    ),
    "are_you_a_bot": (
        ("are you a bot", "are you human", "are you a robot", "am i talking to a bot", "are you real",
         "is this a bot", "are you a person"),
        ("I'm a bot, but I can hand you over to a person if you need one.",),
    ),
}  # fmt: skip
_PUNCTUATION = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACES.sub(" ", _PUNCTUATION.sub("", text.lower())).strip()


class SmallTalkPlugin:
    name: ClassVar[str] = "small_talk"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        #: Topics to answer (default: all of them).
        topics: list[str] = Field(default_factory=lambda: list(TOPICS))
        #: Answers that replace the built-in ones, by topic.
        answers: dict[str, list[str]] = {}

    def __init__(self, config: SmallTalkPlugin.Config) -> None:
        self.config = config
        unknown = sorted((set(config.topics) | set(config.answers)) - set(TOPICS))
        if unknown:
            raise ValueError(f"unknown topic(s): {', '.join(unknown)} (known: {', '.join(TOPICS)})")
        self.index: dict[str, str] = {}
        self.answers: dict[str, tuple[str, ...]] = {}

    async def setup(self) -> None:
        for topic in self.config.topics:
            phrases, answers = TOPICS[topic]
            for phrase in phrases:
                self.index[normalise(phrase)] = topic
            self.answers[topic] = tuple(self.config.answers.get(topic) or answers)

    async def before_nlu(self, ctx: TurnContext) -> PluginResult | None:
        topic = self.index.get(normalise(ctx.message.text))
        if topic is None:
            return None
        answers = self.answers[topic]
        data: dict[str, Any] = {"topic": topic}
        return PluginResult(replies=[answers[len(ctx.recent_turns) % len(answers)]], data=data, stop=True)
