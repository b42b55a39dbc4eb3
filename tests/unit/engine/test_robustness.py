"""Bad messages never crash the engine: whatever the text, there is a reply and the turn is saved."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clawline.bot.keyword_nlu import KeywordBackend
from clawline.messages import Channel, InboundMessage
from clawline.store.memory import InMemoryConversationStore

from .helpers import BASE, make_engine

BOT = (
    BASE
    + """
intents:
  greet: {examples: [hi, hello]}
entities:
  size: {lookup: [small, large], regex: ['\\d+ ?cm']}
slots:
  size: {entity: size, values: [small, large], ask: ask}
  n: {type: number, ask: ask}
responses:
  ask: ["Which?"]
  echo: ["You said {text} ({slots.size|?})"]
rules:
  - {name: regex, when: 'text.matches("^[a-z]+$") && size(text) > 20', then: [{reply: echo}]}
  - {name: weird, when: 'int(text) > 3', then: [{reply: echo}]}
  - {name: form, when: 'intent == "greet"', require: [size, n], then: [{reply: echo}]}
  - {name: echo, priority: -5, when: 'size(turns) >= 0', then: [{reply: echo}]}
"""
)


class SerializingStore(InMemoryConversationStore):
    """Serializes what it saves, as the DynamoDB adapter does."""

    def save(self, state, turn, *, reply=None):
        state.model_dump_json()
        turn.model_dump_json()
        if reply is not None:
            reply.model_dump_json()
        return super().save(state, turn, reply=reply)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    # Surrogates included: JSON can carry them ("\\ud800") and Python decodes them into the text.
    texts=st.lists(st.text(st.characters(exclude_categories=()), max_size=300), min_size=1, max_size=4),
    channel=st.sampled_from(list(Channel)),
)
def test_any_text_gets_a_reply_and_is_recorded(tmp_path_factory, texts, channel):
    bot_dir = tmp_path_factory.mktemp("bot")
    store = SerializingStore()
    engine = make_engine(bot_dir, BOT, nlu=KeywordBackend({"greet": ["hi", "hello"]}), store=store)
    for n, text in enumerate(texts):
        message = InboundMessage(message_id=f"m{n}", channel=channel, conversation_id="c", sender="u", text=text)
        reply = asyncio.run(engine.handle(message))
        assert reply.messages, text
    assert len(store.list_turns("c", "u", limit=10).turns) == len(texts)


def test_a_condition_that_fails_at_runtime_counts_as_not_matching(tmp_path):
    engine = make_engine(tmp_path, BOT, nlu=KeywordBackend({}))
    reply = asyncio.run(
        engine.handle(InboundMessage(message_id="m", channel="test", conversation_id="c", sender="u", text="abc"))
    )
    assert reply.trace == ["echo"]


def test_a_lone_surrogate_from_json_does_not_lose_the_turn(tmp_path):
    store = SerializingStore()
    engine = make_engine(tmp_path, BOT, nlu=KeywordBackend({"greet": ["hi"]}), store=store)
    text = "hi \ud800 there"  # what json.loads('"hi \\ud800 there"') returns
    message = InboundMessage(message_id="m", channel="test", conversation_id="c", sender="u", text=text)
    reply = asyncio.run(engine.handle(message))
    assert reply.messages
    [turn] = store.list_turns("c", "u").turns
    assert turn.user_text == "hi \ufffd there"
