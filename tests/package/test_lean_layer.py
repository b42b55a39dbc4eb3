"""The lean engine layer: every AWS service the functions and plugins call still has its botocore model (a client
for it is built from the layer alone), nothing else of botocore's 22 MB of service data ships, no type stubs ship,
and the layers fit the size goals (issue 11): <= 100 MB unzipped for the default bot, which classifies (engine, bot
and NLU layers: numpy and the static token table), and <= 50 MB for a rules-only bot, which `make build` packages
without the NLU layer.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from local.template import Template
from tests.package.conftest import RUN_ARCH, function_layers
from tests.package.runtime import (
    BUILD_INPUTS,
    FUNCTIONS,
    LAYERS,
    RULES_ONLY_LAYERS,
    LambdaLayout,
    SamBuild,
    inputs_digest,
    locked,
    tree_bytes,
)
from tests.package.test_own_bot import _make_build
from tests.package.tools import ROOT, require_python313, require_sam

pytestmark = pytest.mark.package

#: Layers (engine + bot + NLU) of the default bot, which classifies, unzipped, and the layers (engine + bot) of a
#: rules-only bot: the issue's "<= 100 MB" and "<= 50 MB", read as decimal megabytes (10**6 bytes), the stricter
#: reading (Lambda's own 250 MB limit is counted in MiB).
MB = 10**6
LAYERS_GOAL_BYTES = 100 * MB
RULES_ONLY_GOAL_BYTES = 50 * MB
#: A bot without intents or entities: it never classifies, so `make build` leaves the NLU layer out.
RULES_ONLY_BOT = """\
name: pingbot
settings: {mode: rules, language: en, fallback: fallback}
rules:
  - name: ping
    when: text.matches("(?i)^\\\\s*ping\\\\s*$")
    then: [{reply: pong}]
responses:
  pong: ["pong"]
  fallback: ["Say ping."]
"""
#: Services called through Powertools or botocore itself rather than ``clawline.aws.client``: Powertools'
#: parameters (secrets for HS256 and Fernet: Secrets Manager, SSM), credentials (STS).
INDIRECT = {"secretsmanager", "ssm", "sts"}
#: Where the functions' run-time code lives (the workstation CLI is not run from the layer).
RUNTIME_SOURCES = ("layers/engine/clawline", "functions", "plugins")
_CLIENT = re.compile(r"""\bclient\(\s*["']([a-z0-9-]+)["']""")


def services_called() -> set[str]:
    found = set(INDIRECT)
    for top in RUNTIME_SOURCES:
        for source in (ROOT / top).rglob("*.py"):
            if "cli" in source.relative_to(ROOT).parts:
                continue
            found.update(_CLIENT.findall(source.read_text(encoding="utf-8")))
    return found


def test_services_called_is_found_in_the_sources() -> None:
    # The scan itself: if it found nothing, the model check below would prove nothing.
    assert {"dynamodb", "apigatewaymanagementapi", "iot-data", "kms", "sqs"} <= services_called()


@pytest.mark.parametrize("arch", ["arm64", RUN_ARCH])
def test_engine_layer_keeps_only_the_botocore_models_the_code_calls(sam_builds: dict[str, SamBuild], arch: str) -> None:
    data = sam_builds[arch].artifact("EngineLayer") / "python" / "botocore" / "data"
    # A service ships when its model does (a folder with only an endpoint ruleset builds no client).
    shipped = {p.parent.parent.name for p in data.glob("*/*/service-2.json*")}
    missing = services_called() - shipped
    assert not missing, f"botocore models missing from the layer: {sorted(missing)} (packaging/finish.py)"
    # Nothing else: xray is the only model no client() call names (the X-Ray SDK's sampling client reads it).
    assert shipped - services_called() <= {"xray"}, sorted(shipped - services_called())
    for shared in ("endpoints.json", "partitions.json", "sdk-default-configuration.json", "_retry.json"):
        assert (data / shared).is_file(), shared


@pytest.mark.parametrize("arch", ["arm64", RUN_ARCH])
def test_botocore_models_ship_without_documentation_and_endpoints_list_only_them(
    sam_builds: dict[str, SamBuild], arch: str
) -> None:
    # What a client's creation parses: compact models (read before any .json.gz) and the kept services' endpoints.
    data = sam_builds[arch].artifact("EngineLayer") / "python" / "botocore" / "data"
    models = sorted(data.glob("*/*/service-2.json"))
    assert {p.parent.parent.name for p in models} >= services_called()
    assert not list(data.glob("*/*/service-2.json.gz"))
    prefixes = set()
    for path in models:
        model = json.loads(path.read_text(encoding="utf-8"))
        operation = next(iter(model["operations"].values()))
        assert "documentation" not in model and "documentation" not in operation, path
        prefixes.add(model["metadata"]["endpointPrefix"])
    endpoints = json.loads((data / "endpoints.json").read_text(encoding="utf-8"))
    listed = {name for partition in endpoints["partitions"] for name in partition["services"]}
    assert listed and listed <= prefixes | {"s3"}, sorted(listed - prefixes)


def test_a_client_for_every_service_called_is_built_from_the_layer_alone(build: SamBuild, layout: LambdaLayout) -> None:
    code = (
        "import json, sys, botocore.session\n"
        "s = botocore.session.get_session()\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    s.create_client(name, region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='y')\n"
        "print('ok')\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(layout.opt / "python")}
    done = subprocess.run(
        [str(require_python313()), "-S", "-c", code, json.dumps(sorted(services_called()))],
        env=env,
        cwd=build.directory,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


@pytest.mark.parametrize("arch", ["arm64", RUN_ARCH])
def test_layers_ship_no_type_stubs_and_fit_the_size_goal(sam_builds: dict[str, SamBuild], arch: str) -> None:
    build = sam_builds[arch]
    stubs: list[Path] = []
    for layer in LAYERS:
        stubs += list(build.artifact(layer).rglob("*.pyi"))
    assert not stubs, [str(p.relative_to(build.directory)) for p in stubs[:5]]
    total = sum(tree_bytes(build.artifact(layer)) for layer in LAYERS)
    assert total <= LAYERS_GOAL_BYTES, f"{arch}: layers are {total / MB:.2f} MB unzipped"
    # Without the NLU layer (a rules-only bot's functions; this bot layer carries the default bot, a few KB more).
    lean = sum(tree_bytes(build.artifact(layer)) for layer in RULES_ONLY_LAYERS)
    assert lean <= RULES_ONLY_GOAL_BYTES, f"{arch}: engine + bot layers are {lean / MB:.2f} MB unzipped"


@pytest.fixture(scope="module")
def rules_only_build() -> Path:
    """`make build BOT=...` (x86_64) of a rules-only bot, once per set of inputs, like the own-bot build."""
    require_sam()
    parent = ROOT / ".aws-sam" / "builds" / "rules-only"
    digest = inputs_digest((*BUILD_INPUTS, "Makefile"))[:16]
    directory = parent / digest
    with locked(parent.with_suffix(".lock")):
        stamp = directory / ".clawline-inputs"
        if not stamp.exists():
            shutil.rmtree(directory, ignore_errors=True)
            bot = directory / "src" / "pingbot"
            bot.mkdir(parents=True)
            (bot / "bot.yaml").write_text(RULES_ONLY_BOT, encoding="utf-8")
            print("\n[package] make build BOT=<rules-only> (x86_64): building", file=sys.__stderr__, flush=True)
            done = _make_build(bot, directory / "build")
            assert done.returncode == 0, f"make build failed:\n{(done.stdout + done.stderr)[-6000:]}"
            assert "classifies: false" in done.stdout, done.stdout[-2000:]
            stamp.write_text(digest)
            for old in sorted(p for p in parent.iterdir() if p.is_dir() and p != directory):
                shutil.rmtree(old, ignore_errors=True)
    return directory / "build"


@pytest.mark.parametrize("arch", ["arm64", RUN_ARCH])
def test_the_engine_layer_ships_neither_numpy_nor_the_static_table(sam_builds: dict[str, SamBuild], arch: str) -> None:
    engine = sam_builds[arch].artifact("EngineLayer") / "python"
    nlu = sam_builds[arch].artifact("NluLayer") / "python"
    assert not (engine / "numpy").exists() and not list(engine.rglob("minilm-static.npz"))
    assert (nlu / "numpy" / "__init__.py").is_file()
    assert (nlu / "clawline_nlu_data" / "minilm-static.npz").is_file()


def test_a_rules_only_bot_is_deployed_without_the_nlu_layer_in_under_50_mb(rules_only_build: Path) -> None:
    built = Template.read(rules_only_build / "template.yaml")
    assert built.parameters["BotUsesNlu"] == "false"  # the default the deploy uses, set from the bot
    for logical_id in FUNCTIONS:
        assert function_layers(built, logical_id) == list(RULES_ONLY_LAYERS), logical_id
    total = sum(tree_bytes(rules_only_build / layer) for layer in RULES_ONLY_LAYERS)
    assert total <= RULES_ONLY_GOAL_BYTES, f"rules-only layers are {total / MB:.2f} MB unzipped"
