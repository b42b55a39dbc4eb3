"""Reminders delivered back on the user's channel, when the ``reminder`` plugin's schedule fires.

The plugin creates a one-time EventBridge Scheduler schedule whose input is a :class:`ReminderEvent`. When it is
due, the scheduler invokes the reminder function (asynchronously), which does two things, in this order::

    1. append   the reminder to the conversation as a bot turn: the conversation store's normal write (one
                Query of the window, one PutItem conditioned on the turn number), message id
                ``reminder:{schedule name}``, no user text, the reminder as the bot's text;
    2. push     WebSocket: every open connection of the user (ConnectionsTable's ``by_principal`` index), through
                @connections; a 410 Gone forgets that connection
                MQTT: the thing's reply topic (``clawline/{thing}/out``)
                HTTP: nothing to push to; the client reads it with GET /v1/conversations/{id}/messages

Stored first, so a reminder is never sent that the bot does not know it said (the next turns see it in their
window), and so the write is the idempotency record: exactly once, keyed on the schedule name.

- The scheduler invoking twice (its retries, at-least-once delivery): the second finds the turn stored by another
  invocation (in the loaded window, or by losing the conditional write and reloading) and pushes nothing.
- Lambda retrying this invocation after a failure (the same request id): the turn was stored by this very
  invocation, so its push may never have left; it is pushed again. A client may see it twice then, never zero.
- Its dedupe looks in the conversation's window (the last ``CLAWLINE_CONVERSATION_WINDOW`` turns), like every
  message's: a retry arriving after that many new turns of the same conversation would store it again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator, model_validator
from pydantic import ValidationError as PydanticValidationError

from clawline.channels import mqtt
from clawline.conversation import Turn, TurnAlreadyStoredError
from clawline.errors import ConflictError, InvalidInputError, RetryableError
from clawline.messages import DEFAULT_MAX_TEXT_BYTES, Action, Channel, Identifier, OutboundMessage, Reply
from clawline.ports import ConversationStore
from clawline.principals import PrincipalKind, owner_key

#: What the plugin names its schedules (``clawline-`` and 40 hex digits); the turn's message id derives from it.
SCHEDULE_NAME = r"^[0-9A-Za-z_.-]{1,64}$"
MESSAGE_ID_PREFIX = "reminder:"
#: Conflicts in a row before giving up (Lambda retries the event): each one is a user turn landing in between.
MAX_RACES = 5


class ReminderEvent(BaseModel):
    """The schedule's input, as ``plugins.reminder`` writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    type: Literal["clawline.reminder"]
    schedule: Annotated[str, StringConstraints(pattern=SCHEDULE_NAME)]
    bot: str
    channel: Channel
    conversation_id: Identifier
    #: Who set it: the JWT ``sub`` (HTTP, WebSocket) or the thing name (MQTT), as the channel vouched for it.
    user: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    #: The owner key the conversation is stored under (``clawline.principals``): the sender's own, or for a paired
    #: device its user's. Absent in events of schedules made before owner keys: derived from channel and user.
    owner: Annotated[str, StringConstraints(min_length=1, max_length=300)] | None = None
    text: Annotated[str, StringConstraints(min_length=1)]
    reply_topic: Annotated[str, StringConstraints(pattern=r"^[^#+$][^#+]*$", max_length=256)] | None = None
    due: str

    @field_validator("text")
    @classmethod
    def _text_fits(cls, text: str) -> str:
        size = len(text.encode("utf-8", errors="surrogatepass"))
        if size > DEFAULT_MAX_TEXT_BYTES:
            raise ValueError(f"text is {size} bytes, over the limit of {DEFAULT_MAX_TEXT_BYTES} bytes")
        return text

    @model_validator(mode="after")
    def _addressable(self) -> ReminderEvent:
        # Checked before anything is stored: a reminder that can never be pushed is refused whole.
        if self.channel is Channel.MQTT and not mqtt.THING_NAME.match(self.user):
            raise ValueError("an MQTT reminder's user must be a thing name")
        return self

    @property
    def message_id(self) -> str:
        return MESSAGE_ID_PREFIX + self.schedule

    @property
    def owner_key(self) -> str:
        kind = PrincipalKind.THING if self.channel is Channel.MQTT else PrincipalKind.USER
        return self.owner or owner_key(kind, self.user)


def parse_event(event: Any) -> ReminderEvent:
    """The event as the schedule sent it, or ``InvalidInputError`` (permanent: a retry carries the same event)."""
    try:
        return ReminderEvent.model_validate(event)
    except PydanticValidationError as exc:
        errors = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise InvalidInputError("not a reminder event", details={"errors": errors}) from exc


def reminder_reply(event: ReminderEvent, slots: Mapping[str, Any]) -> Reply:
    """What is stored and pushed: the reminder as the bot's message, with a ``reminder`` action naming it."""
    return Reply(
        message_id=event.message_id,
        conversation_id=event.conversation_id,
        messages=[OutboundMessage(text=event.text)],
        actions=[Action(type="reminder", params={"schedule": event.schedule, "due": event.due})],
        slots=dict(slots),
    )


class Pusher(Protocol):
    """Sends a stored reminder to where the user is; returns how many recipients got it (0: nobody listening)."""

    def __call__(self, event: ReminderEvent, frame: dict[str, Any]) -> int: ...


Status = Literal["delivered", "duplicate", "superseded", "gone"]


@dataclass(frozen=True)
class Delivery:
    #: ``delivered``: stored (now or by a failed try of this invocation) and pushed; ``duplicate``: another
    #: invocation delivered it; ``superseded``: the message id is taken by something else (nothing sent);
    #: ``gone``: the conversation no longer exists (deleted, erased with its user, or expired): nothing stored.
    status: Status
    message_id: str
    pushed: int = 0


class ReminderDelivery:
    """Appends a due reminder to its conversation, once, then pushes it on the conversation's channel."""

    def __init__(
        self,
        store: ConversationStore,
        pushers: Mapping[Channel, Pusher],
        *,
        window: int = 10,
        invocation_id: Callable[[], str | None] | None = None,
    ) -> None:
        self._store = store
        self._pushers = pushers
        self._window = window
        self._invocation_id = invocation_id or (lambda: None)

    def deliver(self, event: ReminderEvent) -> Delivery:
        status, reply = self._append(event)
        if reply is None:
            return Delivery(status, event.message_id)
        pusher = self._pushers.get(event.channel)
        frame = {"type": "reply", **reply.model_dump(mode="json", exclude={"trace"})}
        return Delivery(status, event.message_id, pusher(event, frame) if pusher is not None else 0)

    def _append(self, event: ReminderEvent) -> tuple[Status, Reply | None]:
        """Store the reminder's turn; the reply to push, or None when there is nothing to push."""
        for _race in range(MAX_RACES):
            state = self._store.load(event.conversation_id, event.owner_key, window=self._window)
            if state.is_new:
                # A reminder is set in a conversation that has turns: none left means it was deleted (or its user
                # erased): storing the reminder would bring back data the user had removed.
                return "gone", None
            turn = Turn(seq=0, message_id=event.message_id, channel=event.channel, user_text="", bot_texts=[event.text])
            reply = reminder_reply(event, state.slots)
            try:
                self._store.save(state, turn, reply=reply)
            except ConflictError:
                continue  # a user turn landed in between: load again (consistently) and append after it
            except TurnAlreadyStoredError as exc:
                stored = exc.turn
                if stored.user_text or stored.bot_texts != [event.text]:
                    return "superseded", None  # a client used this message id: leave its turn alone
                if stored.invocation_id is not None and stored.invocation_id == self._invocation_id():
                    # Stored by this invocation on an earlier try (Lambda retrying it): the push may not have left.
                    return "delivered", stored.reply or reply
                return "duplicate", None
            return "delivered", reply
        raise RetryableError("the conversation kept changing while the reminder was appended")


class ConnectionDirectory(Protocol):
    def by_principal(self, principal: str) -> list[str]: ...


class FrameSender(Protocol):
    def send(self, connection_id: str, message: dict[str, Any]) -> bool: ...


class WebSocketPusher:
    """Every open connection of the user gets the frame; a gone one (410) is forgotten by the notifier."""

    def __init__(self, connections: ConnectionDirectory, notifier: FrameSender) -> None:
        self._connections = connections
        self._notifier = notifier

    def __call__(self, event: ReminderEvent, frame: dict[str, Any]) -> int:
        return sum(self._notifier.send(cid, frame) for cid in self._connections.by_principal(event.owner_key))


class MqttPusher:
    """The thing's reply topic: the one the event names, else the function's (``CLAWLINE_REPLY_TOPIC``)."""

    def __init__(self, publish: Callable[[str, bytes], None], reply_topic: str) -> None:
        self._publish = publish
        self._reply_topic = reply_topic

    def __call__(self, event: ReminderEvent, frame: dict[str, Any]) -> int:
        self._publish(event.reply_topic or mqtt.reply_topic(self._reply_topic, event.user), mqtt.encode(frame))
        return 1
