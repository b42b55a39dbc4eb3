"""A confidence gate, and the smallest complete example of a Clawline plugin.

Put it in front of an action that must not run on a guess (cancelling an order, handing off to a human):

.. code-block:: yaml

    plugins:
      - {module: "plugins.sample", class: "SamplePlugin", config: {threshold: 0.8}}
    rules:
      - name: cancel_order
        when: intent == "cancel_order"
        then:
          - plugin: sample          # approves above the threshold, else rejects with a reason
          - reply: order_cancelled  # runs only when approved
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from clawline.plugins.base import PluginResult, TurnContext

DEFAULT_REASON = "I'm not sure I understood that correctly. Could you say it another way?"


class SamplePlugin:
    name: ClassVar[str] = "sample"

    class Config(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        #: NLU confidence a message must exceed to be approved.
        threshold: float = Field(default=0.8, ge=0.0, le=1.0)
        #: What the user is told when the message is rejected.
        reason: str = DEFAULT_REASON

    def __init__(self, config: SamplePlugin.Config) -> None:
        self.config = config

    async def setup(self) -> None:
        """Nothing to prepare: no clients, no secrets (see manifest.yaml)."""

    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
        confidence = ctx.nlu.confidence if ctx.nlu is not None else 0.0
        threshold = float(params.get("threshold", self.config.threshold))
        approved = confidence > threshold
        data = {"approved": approved, "confidence": confidence, "threshold": threshold}
        if approved:
            return PluginResult(data=data)
        return PluginResult(data=data, reject=str(params.get("reason", self.config.reason)))
