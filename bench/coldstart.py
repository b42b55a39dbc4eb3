"""Cold start of each function from the `sam build` output on python3.13: import only, and import + first turn.

Each sample is a fresh ``python3.13 -S`` process laid out as in Lambda (the function folder first, then
/opt/python assembled from the layers, Lambda's own environment variables and the function's environment from
template.yaml pointed at a moto server) that imports the handler module and then, for "first turn", invokes the
handler once with a sample event: the turn's AWS calls (DynamoDB, @connections or iot-data) go over HTTP to
loopback servers, so building the clients, the engine and the NLU is all counted. Every round also runs floor B,
a fresh ``python3.13 -S`` that imports boto3 and builds one DynamoDB client from boto3 and botocore as pip installs
them (the layer's pins, untouched: what Lambda's runtime bundles; the lean layer's botocore, trimmed of unused
services and documentation, would flatter the floor), and each sample is divided by the floor of its own round
(paired runs), so the shared machine's load cancels out as far as it can.
Also reports artifact sizes.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

from bench.report import update_section
from tests.package.runtime import (
    BUILD_INPUTS,
    FUNCTIONS,
    LAYERS,
    RULES_ONLY_LAYERS,
    LambdaLayout,
    SamBuild,
    locked,
)
from tests.package.tools import ROOT, require_python313

EMBEDDING_TEMPLATE = "layers/nlu-embedding/template.yaml"
RUNS = int(os.environ.get("BENCH_RUNS", "7"))  # paired rounds; the goal needs >= 7
ARCH = "x86_64"  # the architecture this host can run; arm64 imports the same files

#: The Lambda context every probe hands the handler (``{function}``: the function's logical id).
CONTEXT = """
class Context:
    function_name = "{function}"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:{function}"
    memory_limit_in_mb = 512
    aws_request_id = "probe-request"
    log_group_name = "/aws/lambda/{function}"
    log_stream_name = "probe"
    def get_remaining_time_in_millis(self):
        return 10000
"""
#: What one sample runs: times the import, then the first invoke (an event on stdin), in the same process.
PROBE = """
import json, sys, time
{context}
c0, w0 = time.process_time(), time.perf_counter()
import {module} as handler_module
{warm}
c1, w1 = time.process_time(), time.perf_counter()
event = json.loads(sys.stdin.read() or "null")
if event is not None:
    result = handler_module.handler(event, Context())
    if not (result.get("statusCode") == 200 or result.get("status") == "replied" or result.get("isAuthorized")):
        sys.exit("the first turn failed: " + json.dumps(result, default=str)[:400])
c2, w2 = time.process_time(), time.perf_counter()
print(json.dumps({{"import": [(c1 - c0) * 1000, (w1 - w0) * 1000], "turn": [(c2 - c0) * 1000, (w2 - w0) * 1000],
                  "after_warm": [(c2 - c1) * 1000, (w2 - w1) * 1000],
                  "numpy": "numpy" in sys.modules, "fastapi": "fastapi" in sys.modules}}))
""".replace("{context}", CONTEXT)
FLOOR = """
import json, time
c0, w0 = time.process_time(), time.perf_counter()
import boto3
boto3.client("dynamodb", region_name="us-east-1")
print(json.dumps({"import": [(time.process_time() - c0) * 1000, (time.perf_counter() - w0) * 1000]}))
"""


def stock_boto3() -> Path:
    """boto3 and botocore at the engine layer's pins, installed by pip for python3.13 and left as pip leaves them
    (``.aws-sam/floor-b-py313``, once): floor B's interpreter path."""
    pins = [
        line.strip()
        for line in (ROOT / "layers" / "engine" / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if line.startswith(("boto3==", "botocore=="))
    ]
    target = ROOT / ".aws-sam" / "floor-b-py313"
    marker = target / (".installed-" + "-".join(pins))
    with locked(target.with_suffix(".lock")):
        if not marker.exists():
            import shutil

            shutil.rmtree(target, ignore_errors=True)
            pip = [str(require_python313()), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
            subprocess.run([*pip, "--only-binary=:all:", "--target", str(target), *pins], check=True, timeout=600)
            marker.touch()
    return target


def lambda_env(function_dir: Path, layout: LambdaLayout, name: str) -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": f"{function_dir}:{layout.opt / 'python'}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        # What Lambda sets: the X-Ray SDK reads LAMBDA_TASK_ROOT and, outside Lambda, builds a sampler with a
        # botocore X-Ray client at import (about 300 ms) that a deployed function never builds.
        "LAMBDA_TASK_ROOT": str(function_dir),
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    }


def function_env(
    template: Any,
    logical_id: str,
    overrides: dict[str, str],
    layout: LambdaLayout,
    build: SamBuild,
    endpoint: str,
    recorder_url: str,
) -> dict[str, str]:
    """The function's environment as deployed (template.yaml, Lambda's variables), the default bot from the bot
    layer, its AWS calls sent to the loopback stack, and tracing off (no X-Ray daemon here; see the section's note)."""
    from tests.package.conftest import function_environment

    rerooted = {"CLAWLINE_BOT_PATH": str(layout.opt / "bots" / "default")}
    env = function_environment(template, logical_id, overrides, rerooted)
    env.update(lambda_env(build.artifact(logical_id), layout, f"clawline-{logical_id}"))
    env.update(
        {
            **{f"AWS_ENDPOINT_URL_{s}": endpoint for s in ("DYNAMODB", "SQS", "KMS", "SECRETS_MANAGER", "SSM")},
            "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": f"{recorder_url}/dev",
            "AWS_ENDPOINT_URL_IOT_DATA_PLANE": recorder_url,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    return env


def probe(python: Path, code: str, env: dict[str, str], cwd: Path, event: dict[str, Any] | None) -> dict[str, Any]:
    done = subprocess.run(
        [str(python), "-S", "-c", code],
        cwd=cwd,
        env=env,
        input=json.dumps(event),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"probe failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["log"] = done.stderr
    return result


@contextmanager
def loopback_stack(template: Any) -> Iterator[tuple[str, str, dict[str, str]]]:
    """A moto server with the template's tables, a dead-letter queue and a KMS key, plus a recorder for
    @connections and iot-data: (moto endpoint, recorder url, function environment overrides)."""
    from moto.server import ThreadedMotoServer

    from local.template import create_tables
    from tests.helpers.aws import Recorder, client, serve_recorder

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")  # moto accepts any; the host's own clients need some
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    recorder_gen = serve_recorder(Recorder())
    recorder_url = next(recorder_gen)
    jwks = issuer().serve_jwks()
    jwks_url = jwks.__enter__()
    try:
        tables = create_tables(client("dynamodb", endpoint), template)
        queue = str(template.resolve({"Ref": "DeadLetterQueue"}))
        overrides = {
            **tables,
            "DeadLetterQueue": client("sqs", endpoint).create_queue(QueueName=queue)["QueueUrl"],
            "DataKey.Arn": client("kms", endpoint).create_key(Description="bench")["KeyMetadata"]["Arn"],
            "JwtIssuer": issuer().issuer,
            "JwtAudience": issuer().audience,
            "JwksUrl": jwks_url,
            "JwtAlgorithms": "RS256",
        }
        yield endpoint, recorder_url, overrides
    finally:
        jwks.__exit__(None, None, None)
        next(recorder_gen, None)
        server.stop()


@cache
def issuer() -> Any:
    """The RS256 issuer whose JWKS the authorizer fetches on its first call (``tests.helpers.tokens``)."""
    from tests.helpers.tokens import Issuer

    return Issuer()


def turn_events(logical_id: str, text: str) -> dict[str, Any] | None:
    """A sample event carrying ``text`` from a new principal (user or device) with fresh conversation and message
    ids: a new user's first message on a new container, never a replay, and never a bucket or a current
    conversation left by an earlier sample. Deployed, the WebSocket authorizer's context comes with every message
    event, so the function reads no connection record. For the authorizer, an HTTP API request with a valid token
    (its first call fetches the JWKS and verifies it)."""
    from tests.helpers.events import load_event

    if logical_id == "AuthorizerFunction":
        event = load_event("authorizer/http_request.json")
        bearer = f"Bearer {issuer().token()}"
        event["headers"]["authorization"] = bearer
        event["identitySource"] = [bearer]
        return event

    ids = {"conversation_id": f"bench-{uuid.uuid4().hex}", "message_id": f"bench-{uuid.uuid4().hex}"}
    sub = f"bench-user-{uuid.uuid4().hex[:12]}"
    if logical_id == "HttpFunction":
        event = load_event("http/post_message.json")
        event["requestContext"]["authorizer"]["lambda"]["sub"] = sub
        event["body"] = json.dumps({"text": text, **ids})
        return event
    if logical_id == "WebSocketFunction":
        event = load_event("websocket/message.json")
        event["requestContext"]["authorizer"] = {"sub": sub}
        event["body"] = json.dumps({"action": "message", "text": text, **ids})
        return event
    if logical_id == "MqttFunction":
        import base64

        event = load_event("mqtt/message.json")
        event["payload"] = base64.b64encode(json.dumps({"text": text, "message_id": ids["message_id"]}).encode())
        event["payload"] = event["payload"].decode()
        event["thing"] = event["client_id"] = f"bench-{uuid.uuid4().hex[:12]}"
        return event
    return None


#: The first turns: one the default bot's rules answer without NLU (MQTT's ping rule), one that classifies, and the
#: same with X-Ray tracing on as deployed (``Tracing: Active``: a sampled trace header, segments sent over UDP to a
#: daemon address nobody listens on here).
TURNS = {"rules": "ping", "nlu": "hello there", "nlu, traced": "hello there", "nlu, SnapStart": "hello there"}
#: "nlu, SnapStart": the before-snapshot hook (``clawline.snapstart.warm``) runs after the import, and only the first
#: turn after it is timed: what an environment resumed from the snapshot pays (the restore itself is not counted).
SNAPSTART_WARM = "from clawline import snapstart\nsnapstart.warm({services!r})"
#: The services each handler registers for the warm-up (functions/*: ``snapstart.register``).
SNAPSTART_SERVICES = {
    "HttpFunction": ("dynamodb", "iot-data", "kms"),
    "WebSocketFunction": ("dynamodb", "apigatewaymanagementapi", "iot-data", "kms"),
    "MqttFunction": ("dynamodb", "iot-data", "kms", "sqs"),
}
#: The authorizer's first call: a request with a valid token.
AUTHORIZER_CALL = "token"
TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def traced(env: dict[str, str]) -> dict[str, str]:
    on = {k: v for k, v in env.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    return {**on, "_X_AMZN_TRACE_ID": TRACE_HEADER, "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000"}


def sizes(path: Path) -> tuple[float, float]:
    """(unzipped MB, zipped MB) of an artifact folder."""
    buffer = io.BytesIO()
    unzipped = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            unzipped += file.stat().st_size
            archive.write(file, file.relative_to(path))
    return unzipped / 1e6, len(buffer.getvalue()) / 1e6


def median_ratio(samples: list[tuple[float, float]]) -> float:
    return statistics.median(value / floor for value, floor in samples)


def main() -> None:
    from local.template import Template

    python = require_python313()
    build = SamBuild(ARCH).run()
    template = Template.read(build.directory / "template.yaml")
    with tempfile.TemporaryDirectory() as tmp, loopback_stack(template) as (endpoint, recorder_url, overrides):
        layout = LambdaLayout.assemble(Path(tmp), [build.artifact(layer) for layer in LAYERS])
        envs: dict[str, dict[str, str]] = {}
        for logical_id in FUNCTIONS:
            envs[logical_id] = function_env(template, logical_id, overrides, layout, build, endpoint, recorder_url)
        floor_env = lambda_env(build.artifact("AuthorizerFunction"), layout, "floor")
        # Floor B from a stock install; the same from the lean layer is reported beside it, for comparison.
        layer_floor_env = dict(floor_env)
        floor_env["PYTHONPATH"] = str(stock_boto3())
        layer_floors: list[dict[str, Any]] = []
        kinds = {name: ["import", *TURNS] for name in FUNCTIONS}
        kinds["AuthorizerFunction"] = ["import", AUTHORIZER_CALL]
        kinds["ReminderFunction"] = ["import"]
        samples: dict[tuple[str, str], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
        flags: dict[tuple[str, str], dict[str, bool]] = {}
        for run in range(RUNS + 1):  # the first round warms the page cache and is dropped
            for logical_id, module in FUNCTIONS.items():
                function_dir = build.artifact(logical_id)
                for kind in kinds[logical_id]:
                    event = None if kind == "import" else turn_events(logical_id, TURNS.get(kind, ""))
                    if kind != "import" and event is None:
                        continue
                    floor = probe(python, FLOOR, floor_env, function_dir, None)
                    warm = SNAPSTART_WARM.format(services=SNAPSTART_SERVICES[logical_id]) if "SnapStart" in kind else ""
                    code = PROBE.format(module=module, function=logical_id, warm=warm)
                    env = traced(envs[logical_id]) if "traced" in kind else envs[logical_id]
                    got = probe(python, code, env, function_dir, event)
                    if run:
                        samples.setdefault((logical_id, kind), []).append((got, floor))
                        flags[(logical_id, kind)] = {"numpy": got["numpy"], "fastapi": got["fastapi"]}
            if run:
                layer_floors.append(probe(python, FLOOR, layer_floor_env, build.artifact("AuthorizerFunction"), None))
            print(f"round {run} done", flush=True)
        rows = []
        for (logical_id, kind), pairs in samples.items():
            key = "import" if kind == "import" else "after_warm" if "SnapStart" in kind else "turn"
            cpu = [(g[key][0], f["import"][0]) for g, f in pairs]
            wall = [(g[key][1], f["import"][1]) for g, f in pairs]
            label = "import only" if kind == "import" else f'import + first turn ({kind}: "{TURNS.get(kind)}")'
            if kind == AUTHORIZER_CALL:
                label = "import + first call (a valid RS256 token: JWKS fetched, signature verified)"
            if "SnapStart" in kind:
                label = f'first turn after the SnapStart warm-up ("{TURNS[kind]}")'
            loaded = ", ".join(name for name, on in flags[(logical_id, kind)].items() if on) or "-"
            rows.append(
                f"| {logical_id} | {label} | {statistics.median(c for c, _ in cpu):.0f} "
                f"| **{median_ratio(cpu):.2f}x** | {statistics.median(w for w, _ in wall):.0f} "
                f"| {median_ratio(wall):.2f}x | {loaded} |"
            )
            print(rows[-1], flush=True)
        floors = [f["import"] for pairs in samples.values() for _, f in pairs]
        floor_cpu = statistics.median(c for c, _ in floors)
        floor_wall = statistics.median(w for _, w in floors)
        layer_floor_cpu = statistics.median(f["import"][0] for f in layer_floors)
        size_rows = []
        for name in [*LAYERS, *FUNCTIONS]:
            unzipped, zipped = sizes(build.artifact(name))
            size_rows.append(f"| {name} | {unzipped:.2f} | {zipped:.2f} |")
        for extra in sorted(p.name for p in build.directory.iterdir() if p.name.endswith("Layer")):
            if extra not in LAYERS:
                unzipped, zipped = sizes(build.artifact(extra))
                size_rows.append(f"| {extra} | {unzipped:.2f} | {zipped:.2f} |")
        for label, layers in (
            ("layers of a rules-only bot (engine + bot)", RULES_ONLY_LAYERS),
            ("layers of the default bot (engine + bot + NLU)", LAYERS),
        ):
            total = sum(sizes(build.artifact(layer))[0] for layer in layers)
            size_rows.append(f"| **{label}** | {total:.2f} ({total * 1e6 / 2**20:.2f} MiB) | |")
        if os.environ.get("BENCH_EMBEDDING", "1") == "1":
            embedding = SamBuild(ARCH, template=EMBEDDING_TEMPLATE, inputs=(*BUILD_INPUTS, "tools/nlu")).run()
            unzipped, zipped = sizes(embedding.artifact("NluEmbeddingLayer"))
            size_rows.append(f"| NluEmbeddingLayer (optional: onnxruntime + model) | {unzipped:.2f} | {zipped:.2f} |")
    load = os.getloadavg()[0]
    markdown = "\n".join(
        [
            "### Cold start of each function: import, and import + first turn (python3.13, `sam build`, x86_64)",
            "",
            f"Median of {RUNS} paired rounds. Each sample is a fresh `python3.13 -S` process with the function "
            "folder and the layers laid out as in Lambda (`tests/package/runtime.py`), Lambda's variables "
            "(`LAMBDA_TASK_ROOT`, `AWS_LAMBDA_FUNCTION_NAME`, `AWS_EXECUTION_ENV`) and the function's environment "
            'from template.yaml; "first turn" then invokes the handler once with a sample event carrying the text '
            "shown from a new user or device (fresh ids: a new turn, never a replay; a WebSocket message carries the "
            "authorizer's context, as deployed), its DynamoDB calls going to a moto server and its reply "
            "to a loopback @connections / iot-data recorder. Floor B = a fresh `python3.13 -S` running "
            "`import boto3; boto3.client('dynamodb', region_name='us-east-1')`, run just before "
            "every sample, with boto3 and botocore as pip installs them at the layer's pins (what Lambda's runtime "
            "bundles; the same from the lean layer, whose botocore keeps only the models the functions call and "
            f"no documentation: {layer_floor_cpu:.0f} ms CPU); "
            "each ratio is the median of sample / floor of the same round. Tracing is off "
            "(`POWERTOOLS_TRACE_DISABLED`: no X-Ray daemon here); with it on, the X-Ray SDK loads on the first "
            'invoke. "ping" is answered by a rule only on MQTT (the default bot\'s device ping); over HTTP and '
            "WebSocket it is classified like any text. The SnapStart rows run the before-snapshot hook "
            "(`clawline.snapstart.warm`) after the import and time only the first turn after it: what an environment "
            "resumed from the snapshot still pays (the restore itself is Lambda's and is not measured here). "
            '"loaded" = numpy / FastAPI in `sys.modules` after the run. The authorizer has no turn: its first call '
            "checks a valid RS256 token (JWKS fetched from a loopback issuer, signature verified). "
            "Goal: <= 1.5x (WebSocket, MQTT, authorizer), <= 2.0x "
            f"(HTTP). Floor B here: {floor_cpu:.0f} ms CPU, {floor_wall:.0f} ms wall. Run by "
            f"`python -m bench coldstart`; 2 cores shared by other jobs, 1-minute load average at the end: {load:.1f}.",
            "",
            "| function | sample | CPU ms | CPU / floor B | wall ms | wall / floor B | loaded |",
            "|---|---|---:|---:|---:|---:|---|",
            *rows,
            "",
            "### Artifact sizes (x86_64 build; arm64 is within a few MB)",
            "",
            "| artifact | unzipped MB | zipped MB |",
            "|---|---:|---:|",
            *size_rows,
        ]
    )
    update_section("coldstart", markdown)


if __name__ == "__main__":
    main()
