"""The rolling summary: what the turns that left the window said, kept in the conversation's state.

A conversation loads only its last ``window`` turns (``clawline.store.dynamodb``), so without this a long
conversation forgets its beginning. Each turn that leaves the window adds one entry (its intent, a snippet of
what the user said, the slots it set) to ``state.summary``; the oldest entries go first when the summary passes
``MAX_CHARS``, so a state item never grows with the conversation. Rules and templates read it as ``summary``.

A plugin with a ``summarize(ctx, previous, dropped)`` hook (the ``llm`` plugin) may return an abstractive summary
instead (``PluginResult.text``); when it fails or returns nothing, the extractive one is kept.

Examples
--------
>>> from clawline.conversation import Turn
>>> turn = Turn(seq=1, message_id="m1", channel="test", user_text="I'd like a large pizza", intent="order",
...             slots_set=["size"])
>>> extractive(None, turn)
"order: I'd like a large pizza (set size)"
"""

from __future__ import annotations

from clawline.conversation import Turn

#: Bound of the whole summary, in characters.
MAX_CHARS = 600
#: Bound of the user text kept per turn.
SNIPPET_CHARS = 80
SEPARATOR = " | "


def entry(turn: Turn) -> str:
    text = " ".join(turn.user_text.split())
    if len(text) > SNIPPET_CHARS:
        text = text[: SNIPPET_CHARS - 1] + "…"
    line = f"{turn.intent or '-'}: {text}"
    if turn.slots_set:
        line += f" (set {', '.join(turn.slots_set)})"
    return line


def extractive(previous: str | None, dropped: Turn, *, max_chars: int = MAX_CHARS) -> str:
    """``previous`` with ``dropped``'s entry added, oldest entries removed until it fits ``max_chars``."""
    entries = [e for e in (previous or "").split(SEPARATOR) if e] + [entry(dropped)]
    while len(entries) > 1 and len(SEPARATOR.join(entries)) > max_chars:
        entries.pop(0)
    return SEPARATOR.join(entries)[:max_chars]


def bounded(text: str, *, max_chars: int = MAX_CHARS) -> str:
    """A plugin's summary, cut to the same bound."""
    return text[:max_chars]
