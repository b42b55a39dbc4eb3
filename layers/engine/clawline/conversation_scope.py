"""Which conversation a message belongs to, as the bot's ``settings.conversation_scope`` says.

- ``per_user`` (the default): a message without a conversation id continues its owner's *latest started*
  conversation, whatever the channel; the first such message starts one. A message that names a conversation
  goes there, and a conversation it starts becomes the owner's current one.
- ``per_connection``: a message without an id goes to the channel's own default (one per WebSocket user, one per
  device, one per HTTP request named after its message id).
- ``explicit``: a message without an id is refused (``conversation_id_required``).

Cost (``clawline.store.owners`` has the layout): a container remembers each owner's current conversation, so an
id-less warm turn is the same one Query and one PutItem as any turn; the Query reads the ``T#~`` marker too, and
follows it (another Query, rare) when another channel started a conversation since. A container that does not
know the owner reads the pointer and the profile with one Query. Starting a conversation writes the pointer, the
index item and the marker once. A container's memory may be stale only toward an older conversation, which the
marker corrects.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import NamedTuple

from clawline.conversation import ConversationState
from clawline.errors import InvalidInputError
from clawline.messages import InboundMessage
from clawline.ports import ConversationStore, OwnerIndex, OwnerRecord

PER_USER, PER_CONNECTION, EXPLICIT = "per_user", "per_connection", "explicit"
#: Owners whose current conversation a container remembers (least recently used forgotten first).
CURRENT_ENTRIES = 4096
#: Markers followed before the pointer itself is read.
MAX_HOPS = 3


class ConversationIdRequiredError(InvalidInputError):
    """The bot's conversation_scope is ``explicit`` and the message names no conversation."""

    code = "conversation_id_required"


class CurrentConversations:
    """owner -> current conversation id, per container (bounded)."""

    def __init__(self, size: int = CURRENT_ENTRIES) -> None:
        self._items: OrderedDict[str, str] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, owner: str) -> str | None:
        with self._lock:
            value = self._items.get(owner)
            if value is not None:
                self._items.move_to_end(owner)
            return value

    def put(self, owner: str, conversation_id: str) -> None:
        with self._lock:
            self._items[owner] = conversation_id
            self._items.move_to_end(owner)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class Opened(NamedTuple):
    """A message routed to its conversation, and that conversation loaded."""

    message: InboundMessage
    state: ConversationState
    #: The owner's pointer and profile, when this turn read them.
    record: OwnerRecord | None = None
    #: The message named no conversation and continues the owner's current one (``per_user``).
    follows_current: bool = False


class ConversationRouter:
    def __init__(self, store: ConversationStore, owners: OwnerIndex | None, scope: str, *, window: int) -> None:
        self.store = store
        self.owners = owners
        self.scope = scope
        self.window = window
        self.current = CurrentConversations()

    @property
    def per_user(self) -> bool:
        return self.scope == PER_USER and self.owners is not None

    def open(self, message: InboundMessage) -> Opened:
        """The conversation ``message`` goes to, loaded (one Query on a warm container)."""
        if not message.conversation_given and self.scope == EXPLICIT:
            raise ConversationIdRequiredError(
                "this bot needs a conversation_id on every message", details={"reason": "conversation_scope"}
            )
        owner = message.owner_key
        if message.conversation_given or not self.per_user:
            return Opened(message, self.store.load(message.conversation_id, owner, window=self.window))
        assert self.owners is not None
        record: OwnerRecord | None = None
        conversation_id = self.current.get(owner)
        for _hop in range(MAX_HOPS + 1):
            if conversation_id is None:
                record = self.owners.read(owner)
                conversation_id = record.current
                if conversation_id is None:
                    # The owner's first conversation: started (exclusively) when the turn is stored.
                    conversation_id = uuid.uuid4().hex
                    state = ConversationState(conversation_id=conversation_id, owner=owner)
                    break
            state = self.store.load(conversation_id, owner, window=self.window, as_current=True)
            if state.superseded_by is not None:
                # Another channel started a conversation since this container last saw the owner.
                conversation_id = state.superseded_by
                continue
            if state.is_new and record is None:
                # The remembered conversation is gone (deleted, expired): the pointer decides.
                conversation_id = None
                continue
            break
        else:  # pragma: no cover - a chain of markers longer than MAX_HOPS: the pointer decides
            record = self.owners.read(owner)
            conversation_id = record.current or uuid.uuid4().hex
            state = self.store.load(conversation_id, owner, window=self.window)
        self.current.put(owner, conversation_id)
        routed = message.model_copy(update={"conversation_id": conversation_id})
        return Opened(routed, state, record, follows_current=True)

    def start(self, opened: Opened, *, with_profile: bool = True) -> Opened:
        """``opened.state`` is new: index the conversation (and make it current in ``per_user``).

        Returns the conversation to use: itself, or, when another turn made another one current first (two
        channels starting the owner's first conversation at once), that one, loaded. ``record`` is then the
        owner's profile to start with. The owner's pointer and profile are read (one Query) unless this turn read
        them already, or neither is needed (a named conversation of a bot without ``scope: user`` slots).
        """
        if self.owners is None:
            return opened
        message = opened.message
        owner, conversation_id = message.owner_key, message.conversation_id
        needed = with_profile or (self.per_user and opened.follows_current)
        record = opened.record or (self.owners.read(owner) if needed else OwnerRecord())
        channel = message.channel.value
        if not self.per_user:
            self.owners.index(owner, conversation_id, channel=channel)
            return opened._replace(record=record)
        current = self.owners.start(
            owner, conversation_id, channel=channel, expected=record.current, exclusive=opened.follows_current
        )
        self.current.put(owner, current)
        if current == conversation_id:
            return opened._replace(record=record)
        routed = message.model_copy(update={"conversation_id": current})
        state = self.store.load(current, owner, window=self.window)
        return Opened(routed, state, record, follows_current=True)
