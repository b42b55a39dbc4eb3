"""What `sam build` produces, inspected: it builds for both architectures, every import resolves from the function
folder and the layers alone, bytecode is python3.13's and never goes stale, native files match the architecture,
and the bot layer puts the bot and the plugins where the functions look for them.
"""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.package.conftest import RUN_ARCH, function_layers
from tests.package.runtime import (
    FUNCTIONS,
    LAMBDA_UNZIPPED_LIMIT,
    LAYERS,
    RULES_ONLY_LAYERS,
    LambdaLayout,
    SamBuild,
    tree_bytes,
)
from tests.package.tools import require_python313

pytestmark = pytest.mark.package

#: Workstation tools shipped inside the engine package but never imported by a function (their dependencies
#: come from the project venv): the dev server / CLI and the stories runner.
DEV_ONLY = ("clawline/cli/", "clawline/stories/")
#: Optional backends a bot must opt into, with the layer dependency it then needs.
OPTIONAL = {"onnxruntime": "the sentence-embedding NLU backend (clawline.nlu.embedding)"}
#: Modules Lambda's managed runtime provides (not in any layer), with what imports them.
RUNTIME_PROVIDED = {"snapshot_restore_py": "the SnapStart hooks (clawline.snapstart), only in a snap-start INIT"}
ELF_MACHINE = {"x86_64": 62, "arm64": 183}
PAST = 1_577_836_800  # 2020-01-01


def python_in_layout(
    layout: LambdaLayout, function_dir: Path, code: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{function_dir}:{layout.opt / 'python'}", "AWS_REGION": "us-east-1"}
    # cwd is the function folder, as /var/task is in Lambda (and `-c` puts the cwd first on sys.path).
    return subprocess.run(
        [str(require_python313()), "-S", "-c", code, *args],
        cwd=function_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_arm64_default_and_x86_64_builds_succeed_with_every_artifact(sam_builds: dict[str, SamBuild]) -> None:
    for arch, build in sam_builds.items():
        for logical_id in [*FUNCTIONS, *LAYERS]:
            assert any(build.artifact(logical_id).iterdir()), f"{arch}: {logical_id} is empty"


@pytest.mark.parametrize("arch", ["arm64", RUN_ARCH])
def test_native_extensions_are_built_for_the_target_architecture(sam_builds: dict[str, SamBuild], arch: str) -> None:
    machines: dict[int, list[str]] = {}
    for path in sam_builds[arch].directory.rglob("*.so*"):
        header = path.read_bytes()[:20]
        if header[:4] == b"\x7fELF":
            machines.setdefault(int.from_bytes(header[18:20], "little"), []).append(path.name)
    assert machines, "no native extension at all: the engine layer's dependencies are missing"
    assert set(machines) == {ELF_MACHINE[arch]}, {m: names[:3] for m, names in machines.items()}
    assert any(name.startswith("_pydantic_core") for name in machines[ELF_MACHINE[arch]])


def test_every_source_has_unchecked_hash_bytecode_from_python313(build: SamBuild) -> None:
    checked = 0
    for logical_id in [*FUNCTIONS, *LAYERS]:
        for source in build.artifact(logical_id).rglob("*.py"):
            pyc = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
            assert pyc.exists(), f"no python3.13 bytecode for {source.relative_to(build.directory)}"
            flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
            # PEP 552: bit 0 = hash-based, bit 1 = check the source. Unchecked hash is 0b01: valid whatever the mtimes.
            assert flags == 0b01, f"{pyc.relative_to(build.directory)} has flags {flags:#04b}"
            checked += 1
    assert checked > 1000  # the layer's dependencies are compiled too, not just our own modules


def test_shipped_bytecode_stays_valid_when_source_mtimes_change(build: SamBuild, layout: LambdaLayout) -> None:
    # Zip archives keep mtimes only to 2 s: timestamp-based .pyc files would be stale after unzipping and, in
    # Lambda's read-only code folders, recompiled on every cold start. Here every source gets another mtime and the
    # import must neither recompile nor rewrite a single .pyc.
    roots = [build.artifact("MqttFunction"), *(build.artifact(layer) for layer in LAYERS)]
    for root in roots:
        for source in root.rglob("*.py"):
            os.utime(source, (PAST, PAST))
    before = {p: p.stat().st_mtime_ns for root in roots for p in root.rglob("*.pyc")}
    result = python_in_layout(
        layout, build.artifact("MqttFunction"), "import sys, mqtt_handler; print(len(sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 200  # the engine, powertools, boto3 and pydantic were all imported
    after = {p: p.stat().st_mtime_ns for root in roots for p in root.rglob("*.pyc")}
    assert after == before


def test_every_import_resolves_from_the_function_folder_and_the_layers(build: SamBuild, layout: LambdaLayout) -> None:
    script = Path(__file__).with_name("resolve_imports.py")
    engine, plugins = layout.opt / "python" / "clawline", layout.opt / "python" / "plugins"
    runner = f"import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path({str(script)!r}, run_name='__main__')"

    def unresolved(logical_id: str) -> list[dict[str, str]]:
        function_dir = build.artifact(logical_id)
        handler = function_dir / f"{FUNCTIONS[logical_id]}.py"
        result = python_in_layout(layout, function_dir, runner, "-", str(handler), str(engine), str(plugins))
        assert result.returncode == 0, result.stderr
        found: list[dict[str, str]] = json.loads(result.stdout)
        return [
            m
            for m in found
            if not any(part in m["where"] for part in DEV_ONLY)
            and m["module"].split(".")[0] not in {*OPTIONAL, *RUNTIME_PROVIDED}
        ]

    with ThreadPoolExecutor(max_workers=len(FUNCTIONS)) as pool:
        missing = dict(zip(FUNCTIONS, pool.map(unresolved, FUNCTIONS), strict=True))
    assert missing == {name: [] for name in FUNCTIONS}, f"imports that Lambda could not resolve: {missing}"


def test_a_dependency_missing_from_the_layer_fails_the_import(
    build: SamBuild, layout: LambdaLayout, tmp_path: Path
) -> None:
    # The same layout minus pydantic: if anything outside the layers (the interpreter's site-packages, the project
    # venv) could supply it, this would pass unnoticed and so would a real gap in the layer.
    stripped = LambdaLayout(tmp_path)
    (stripped.opt / "python").mkdir(parents=True)
    for entry in (layout.opt / "python").iterdir():
        if not entry.name.startswith("pydantic"):
            (stripped.opt / "python" / entry.name).symlink_to(entry.resolve())
    result = python_in_layout(stripped, build.artifact("WebSocketFunction"), "import websocket_handler")
    assert result.returncode != 0
    assert "No module named 'pydantic" in result.stderr


def test_functions_other_than_http_never_import_fastapi(build: SamBuild, layout: LambdaLayout) -> None:
    def imports_fastapi(logical_id: str) -> bool:
        code = f"import sys, {FUNCTIONS[logical_id]}; print('fastapi' in sys.modules)"
        result = python_in_layout(layout, build.artifact(logical_id), code)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip() == "True"

    with ThreadPoolExecutor(max_workers=len(FUNCTIONS)) as pool:
        found = dict(zip(FUNCTIONS, pool.map(imports_fastapi, FUNCTIONS), strict=True))
    assert found == {name: name == "HttpFunction" for name in FUNCTIONS}


def test_http_function_ships_only_what_the_layer_does_not(build: SamBuild) -> None:
    shipped = {p.name.split("-")[0].lower() for p in build.artifact("HttpFunction").glob("*.dist-info")}
    assert {"fastapi", "mangum", "starlette"} <= shipped
    assert not shipped & {"pydantic", "pydantic_core", "typing_extensions", "boto3", "botocore"}
    assert not (build.artifact("HttpFunction") / "bin").exists()


def test_bot_layer_puts_the_default_bot_and_the_plugins_where_lambda_looks(
    build: SamBuild, layout: LambdaLayout
) -> None:
    assert (layout.opt / "bots" / "default" / "bot.yaml").is_file()
    assert not list((layout.opt / "python" / "plugins").rglob("tests"))
    result = python_in_layout(
        layout, build.artifact("MqttFunction"), "import plugins.sample, clawline; print(plugins.sample.__file__)"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(layout.opt / "python" / "plugins"))


def test_layers_never_overwrite_each_others_files(layout: LambdaLayout) -> None:
    assert layout.clashes == []


def test_message_functions_use_the_three_layers_in_order_and_the_authorizer_goes_without_numpy(
    built_template: object,
) -> None:
    from local.template import Template

    assert isinstance(built_template, Template)
    for logical_id in FUNCTIONS:
        # The authorizer and the reminder function run no turn: no NLU layer.
        expected = list(RULES_ONLY_LAYERS) if logical_id in ("AuthorizerFunction", "ReminderFunction") else list(LAYERS)
        assert function_layers(built_template, logical_id) == expected, logical_id


def test_function_and_layers_fit_lambdas_unzipped_size_limit(build: SamBuild) -> None:
    layers = sum(tree_bytes(build.artifact(layer)) for layer in LAYERS)
    for logical_id in FUNCTIONS:
        total = layers + tree_bytes(build.artifact(logical_id))
        assert total < LAMBDA_UNZIPPED_LIMIT, f"{logical_id}: {total / 2**20:.0f} MiB unzipped with its layers"
