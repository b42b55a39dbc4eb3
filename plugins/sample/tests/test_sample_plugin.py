"""The sample plugin approves a message when NLU confidence is above its threshold, and rejects it otherwise."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import pytest
import yaml
from pydantic import ValidationError

from clawline.messages import InboundMessage
from clawline.nlu.types import NluResult
from clawline.plugins.base import Plugin, PluginResult, TurnContext
from plugins.sample import SamplePlugin

MANIFEST = Path(__file__).resolve().parents[1] / "manifest.yaml"


def context(confidence: float | None) -> TurnContext:
    return TurnContext(
        message=InboundMessage(message_id="m1", channel="test", conversation_id="c1", sender="u1", text="cancel"),
        bot="test",
        slots=MappingProxyType({}),
        active_form=None,
        last_intents=(),
        recent_turns=(),
        nlu=None if confidence is None else NluResult(intent="cancel", confidence=confidence),
        plugin_data=MappingProxyType({}),
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )


def call(plugin: SamplePlugin, confidence: float | None, **params: object) -> PluginResult:
    asyncio.run(plugin.setup())
    return asyncio.run(plugin.action(context(confidence), params))


def test_confidence_above_the_threshold_is_approved() -> None:
    result = call(SamplePlugin(SamplePlugin.Config(threshold=0.8)), 0.81)
    assert result.reject is None
    assert result.data["approved"] is True


@pytest.mark.parametrize("confidence", [0.8, 0.2, None])
def test_confidence_at_or_below_the_threshold_or_no_nlu_is_rejected_with_the_reason(confidence: float | None) -> None:
    result = call(SamplePlugin(SamplePlugin.Config(threshold=0.8, reason="Say it again?")), confidence)
    assert result.reject == "Say it again?"
    assert result.data["approved"] is False


def test_a_rule_can_override_threshold_and_reason_per_call() -> None:
    plugin = SamplePlugin(SamplePlugin.Config(threshold=0.9))
    assert call(plugin, 0.7, threshold=0.6).reject is None
    assert call(plugin, 0.5, threshold=0.6, reason="nope").reject == "nope"


def test_config_is_validated() -> None:
    with pytest.raises(ValidationError):
        SamplePlugin.Config(threshold=1.5)
    with pytest.raises(ValidationError):
        SamplePlugin.Config.model_validate({"treshold": 0.5})


def test_it_implements_the_plugin_protocol_and_its_manifest_matches() -> None:
    assert isinstance(SamplePlugin(SamplePlugin.Config()), Plugin)
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert (manifest["name"], manifest["module"], manifest["class"]) == ("sample", "plugins.sample", "SamplePlugin")
    assert manifest["permissions"] == {"network": [], "aws": [], "secrets": []}
    assert set(manifest["config"]["properties"]) == set(SamplePlugin.Config.model_fields)
