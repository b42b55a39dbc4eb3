"""The plugin example of docs/plugins.md; tests/unit/engine/test_docs_examples.py runs it in a bot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from clawline.plugins.base import PluginResult, TurnContext


class Weather:
    name: ClassVar[str] = "weather"  # what rules call: `plugin: weather`

    class Config(BaseModel):  # validated from the bot's `config:`; unknown keys are errors
        model_config = ConfigDict(extra="forbid")
        city: str = "Paris"

    def __init__(self, config: Weather.Config) -> None:
        self.config = config
        self.forecasts: dict[str, str] = {}

    async def setup(self) -> None:  # once per cold start: clients, secrets, models
        self.forecasts = {"Paris": "sunny", "London": "rainy"}

    async def action(self, ctx: TurnContext, params: Mapping[str, Any]) -> PluginResult:
        city = str(params.get("city", self.config.city))
        forecast = self.forecasts.get(city, "unknown")
        return PluginResult(replies=[f"{forecast.capitalize()} in {city}."], data={"forecast": forecast})
