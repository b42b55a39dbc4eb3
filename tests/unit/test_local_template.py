"""The local runtime's reading of template.yaml: conditions and ``!If`` evaluated against the parameters, as
CloudFormation would, with ``AWS::NoValue`` dropping the item."""

from __future__ import annotations

import pytest

from local.template import Template

ARN = "arn:aws:lambda:us-east-1:123456789012:layer:clawline-nlu-embedding-dev:3"


@pytest.mark.parametrize(
    ("arn", "uses_nlu", "memory", "backend", "extra_layers"),
    [
        ("", "true", 512, "linear", ["NluLayer"]),
        ("", "false", 512, "linear", []),  # a rules-only bot: no numpy
        (ARN, "true", 1024, "embedding", ["NluLayer", ARN]),
        (ARN, "false", 1024, "embedding", ["NluLayer", ARN]),  # the embedding backend needs numpy too
    ],
)
def test_the_nlu_layer_parameters_resolve_as_cloudformation_would(
    arn: str, uses_nlu: str, memory: int, backend: str, extra_layers: list[str]
) -> None:
    template = Template.read(NluEmbeddingLayerArn=arn, BotUsesNlu=uses_nlu)
    props = template.resources["HttpFunction"]["Properties"]
    assert template.resolve(props["MemorySize"]) == memory
    glob = template.data["Globals"]["Function"]
    assert template.resolve(glob["Environment"]["Variables"]["CLAWLINE_NLU_BACKEND"]) == backend
    assert template.resolve(props["Layers"]) == extra_layers


def test_conditions_combine_and_an_unknown_one_is_an_error() -> None:
    template = Template.read(FunctionConcurrency="0")
    assert template.condition("HasConcurrencyLimit") is False
    assert template.resolve({"a": {"Fn::If": ["HasConcurrencyLimit", 5, {"Ref": "AWS::NoValue"}]}}) == {}
    assert Template.read(FunctionConcurrency="50").condition("HasConcurrencyLimit") is True
    with pytest.raises(KeyError, match="no condition named Nope"):
        template.condition("Nope")
