"""The lean engine layer: every AWS service the functions and plugins call still has its botocore model (a client
for it is built from the layer alone), nothing else of botocore's 22 MB of service data ships, no type stubs ship,
and the layers fit the size goal (issue 11: <= 100 MB unzipped with the default NLU's numpy).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.package.conftest import RUN_ARCH
from tests.package.runtime import LAYERS, LambdaLayout, SamBuild, tree_bytes
from tests.package.tools import ROOT, require_python313

pytestmark = pytest.mark.package

#: Layers (engine + bot) with the default bot's NLU (numpy), unzipped, in Lambda's MB (MiB, as its 250 MB limit).
LAYERS_GOAL_BYTES = 100 * 2**20
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
    shipped = {p.name for p in data.iterdir() if p.is_dir()}
    missing = services_called() - shipped
    assert not missing, f"botocore models missing from the layer: {sorted(missing)} (packaging/finish.py)"
    # Nothing else: xray is the only model no client() call names (the X-Ray SDK's sampling client reads it).
    assert shipped - services_called() <= {"xray"}, sorted(shipped - services_called())
    for shared in ("endpoints.json", "partitions.json", "sdk-default-configuration.json", "_retry.json"):
        assert (data / shared).is_file(), shared


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
    assert total <= LAYERS_GOAL_BYTES, f"{arch}: layers are {total / 2**20:.1f} MiB unzipped"
