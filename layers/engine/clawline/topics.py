"""The MQTT topics a bot may ``publish`` to: ``settings.publish_topics``, an allow-list of topic patterns.

A pattern is a topic whose levels are literal or one ``{placeholder}`` (any one level, e.g. a thing name):
``clawline/{thing}/out``, ``clawline/kitchen/orders``. MQTT wildcards (``+``, ``#``) and ``$``-topics (the
broker's own, e.g. shadows and jobs) are never allowed: a publish goes to exactly one ordinary topic.

The same list is checked twice: at ``clawline validate`` (a ``publish`` action whose topic template cannot fit
any pattern is refused) and at run time on the rendered topic (a slot value could contain ``/``), so a bot can
never publish outside what its IoT policy is scoped to (template.yaml's ``PublishTopics`` parameter).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
#: One topic level: no separator, no MQTT wildcard, no NUL.
_LEVEL = r"[^/+#\x00]+"
#: A pattern: levels of literal characters (no wildcards) or exactly one {name}.
_PATTERN_LEVEL = r"(?:[^/+#{}\x00]+|\{[A-Za-z_][A-Za-z0-9_]*\})"
PATTERN = re.compile(rf"^(?!\$){_PATTERN_LEVEL}(?:/{_PATTERN_LEVEL})*$")
#: IoT Core's topic size limit (bytes, UTF-8).
MAX_TOPIC_BYTES = 256


def check_pattern(pattern: str) -> str:
    """A pattern as written, or ``ValueError`` saying why it can never be allowed."""
    if len(pattern.encode()) > MAX_TOPIC_BYTES:
        raise ValueError(f"topic pattern over {MAX_TOPIC_BYTES} bytes")
    if not PATTERN.match(pattern):
        raise ValueError(
            f"{pattern!r} is not a topic pattern: levels are literal text or one {{placeholder}}; "
            "no MQTT wildcards (+, #), no empty level, no $-topic"
        )
    return pattern


def _regex(pattern: str) -> re.Pattern[str]:
    parts = _PLACEHOLDER.split(pattern)
    return re.compile("^" + _LEVEL.join(re.escape(p) for p in parts) + "$")


class TopicAllowList:
    """Matches rendered topics (run time) and topic templates (validation) against the bot's patterns."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = tuple(patterns)
        self._regexes = tuple(_regex(p) for p in self.patterns)

    def allows(self, topic: str) -> bool:
        if not topic or topic.startswith("$") or len(topic.encode()) > MAX_TOPIC_BYTES:
            return False
        return any(r.match(topic) for r in self._regexes)

    def may_allow(self, template: str) -> bool:
        """Whether a topic template can render to an allowed topic: each of its placeholders fills one level."""
        return self.allows(_PLACEHOLDER.sub("x", template))

    def iam_resources(self) -> list[str]:
        """The patterns as IoT policy resource suffixes (``topic/...``): a placeholder is ``*``."""
        return [_PLACEHOLDER.sub("*", p) for p in self.patterns]
