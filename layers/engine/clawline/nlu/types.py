"""What NLU hands to the engine. Kept free of numpy so the rule engine can import it cheaply."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from clawline.messages import Entity


class IntentScore(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    intent: str
    confidence: float


class NluResult(BaseModel):
    """The understanding of one message.

    ``intent`` is None when the message is out of scope (confidence under the model's threshold, or the
    out-of-scope class won); ``ranking`` still lists the best candidates for rules that want them.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    intent: str | None
    confidence: float
    ranking: list[IntentScore] = []
    entities: list[Entity] = []

    @property
    def out_of_scope(self) -> bool:
        return self.intent is None


class NluBackend(Protocol):
    """Anything that understands text: the default linear model, the embedding model, a remote service."""

    def parse(self, text: str) -> NluResult: ...
