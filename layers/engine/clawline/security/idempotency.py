"""Idempotency records sealed like stored turns.

Powertools keeps the reply to each answered message in the idempotency table until the record expires, so a
replay gets the first answer. A reply carries what the conversation holds (the bot's texts, entities, slots):
with field encryption on, it is sealed with the conversation's cipher and encryption context (tenant, the
message's sender, conversation), exactly as its stored turn is. Only the conversation id stays readable: it is
needed to open the record again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.idempotency.serialization.base import BaseIdempotencySerializer

from clawline.messages import Reply

if TYPE_CHECKING:  # the cipher module imports cryptography: only functions with encryption on load it
    from clawline.security.encryption import FieldCipher

#: The sender of the message being answered: Powertools hands the serializer only the reply.
_SENDER: ContextVar[str] = ContextVar("clawline_idempotency_sender")


@contextmanager
def sealing_for(sender: str) -> Iterator[None]:
    """Seal and open idempotency records under ``sender``'s context for the duration of one turn."""
    token = _SENDER.set(sender)
    try:
        yield
    finally:
        _SENDER.reset(token)


class SealedReplySerializer(BaseIdempotencySerializer):
    def __init__(self, cipher: FieldCipher, tenant: str) -> None:
        self._cipher = cipher
        self._tenant = tenant

    def _context(self, conversation_id: str) -> dict[str, str]:
        return {"tenant_id": self._tenant, "user_id": _SENDER.get(), "conversation_id": conversation_id}

    def to_dict(self, data: Any) -> dict[str, str]:
        reply = Reply.model_validate(data)
        sealed = self._cipher.encrypt(reply.model_dump_json(), self._context(reply.conversation_id))
        return {"conversation_id": reply.conversation_id, "sealed": sealed}

    def from_dict(self, data: dict[str, Any]) -> Reply:
        if "sealed" not in data:
            return Reply.model_validate(data)  # written before encryption was turned on
        opened = self._cipher.decrypt(str(data["sealed"]), self._context(str(data["conversation_id"])))
        return Reply.model_validate_json(opened)
