"""The seed's plugin API, exactly as the seed writes it: a dict config and ``process(message)`` gating the turn.

.. code-block:: yaml

    plugins:
      - {module: "seed_sample", class: "SamplePlugin", config: {threshold: 0.8}}
"""

from clawline.plugins.base import BasePlugin


class SamplePlugin(BasePlugin):
    def __init__(self, config):
        self.threshold = config.get("threshold", 0.5)

    async def process(self, message):
        if message["confidence"] >= self.threshold:
            return {"action": "approve"}
        return {"action": "reject"}
