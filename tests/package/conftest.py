"""Package fixtures: the x86_64 `sam build` output, its layers laid out as Lambda's /opt, loopback AWS (moto server
for DynamoDB, SQS and KMS; a recorder for @connections and iot-data), a JWKS issuer, and one Runtime Interface
Emulator per function started with the function's own environment from template.yaml.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from moto.server import ThreadedMotoServer

from local.template import Template, create_tables
from tests.helpers.aws import Recorder, client, serve_recorder
from tests.helpers.events import load_event
from tests.package.runtime import EmulatedFunction, Invocation, LambdaLayout, SamBuild, install_awslambdaric
from tests.package.tools import require_python313

#: The architecture the emulator can run here (the host's); arm64 is built too, and inspected, never run.
RUN_ARCH = "x86_64"
ISSUER = "https://issuer.clawline.test/"
AUDIENCE = "clawline"
PLACEHOLDER_TOKEN = "REPLACE_WITH_JWT"
KEY_ID = "package-test-key"
#: ``sample("http/health.json")``: a sample event with a real token in place of the placeholder.
Sample = Callable[[str], dict[str, Any]]


@pytest.fixture(scope="session")
def sam_builds() -> dict[str, SamBuild]:
    """Both architectures, built concurrently (each is skipped when its inputs have not changed)."""
    require_python313()
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {arch: pool.submit(SamBuild(arch).run) for arch in (RUN_ARCH, "arm64")}
        return {arch: future.result() for arch, future in futures.items()}


@pytest.fixture(scope="session")
def build(sam_builds: dict[str, SamBuild]) -> SamBuild:
    return sam_builds[RUN_ARCH]


@pytest.fixture(scope="session")
def built_template(build: SamBuild) -> Template:
    return Template.read(build.directory / "template.yaml")


def function_layers(template: Template, logical_id: str) -> list[str]:
    """Logical ids of the layers this stack builds that a function uses, in order (Globals first, as SAM merges
    them), with the template's conditions evaluated on its parameter defaults (``!If [HasNluLayer, ...]``). A layer
    given by ARN (the optional NLU embedding layer) is not one of them."""
    glob = ((template.data.get("Globals") or {}).get("Function") or {}).get("Layers") or []
    own = (template.resources[logical_id].get("Properties") or {}).get("Layers") or []
    found = []
    for entry in [*glob, *own]:
        chosen = entry
        if isinstance(entry, dict) and "Fn::If" in entry:
            name, when_true, when_false = entry["Fn::If"]
            chosen = when_true if template.condition(str(name)) else when_false
        if isinstance(chosen, dict) and str(chosen.get("Ref")) in template.resources:
            found.append(str(chosen["Ref"]))
    return found


@pytest.fixture(scope="session")
def layout(build: SamBuild, built_template: Template, tmp_path_factory: pytest.TempPathFactory) -> LambdaLayout:
    layers = function_layers(built_template, "HttpFunction")
    return LambdaLayout.assemble(tmp_path_factory.mktemp("lambda"), [build.artifact(layer) for layer in layers])


@dataclass
class LoopbackAws:
    endpoint: str
    recorder: Recorder
    recorder_url: str
    tables: dict[str, str]
    dead_letter_queue_url: str
    kms_key_arn: str

    def dead_letters(self) -> list[dict[str, Any]]:
        sqs = client("sqs", self.endpoint)
        out: list[dict[str, Any]] = []
        while msgs := sqs.receive_message(QueueUrl=self.dead_letter_queue_url, MaxNumberOfMessages=10).get("Messages"):
            out.extend(json.loads(m["Body"]) for m in msgs)
            for m in msgs:
                sqs.delete_message(QueueUrl=self.dead_letter_queue_url, ReceiptHandle=m["ReceiptHandle"])
        return out


@pytest.fixture(scope="session")
def aws(built_template: Template) -> Iterator[LoopbackAws]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    recorder = Recorder()
    recorder_gen = serve_recorder(recorder)
    recorder_url = next(recorder_gen)
    tables = create_tables(client("dynamodb", endpoint), built_template)
    queue_name = str(built_template.resolve({"Ref": "DeadLetterQueue"}))
    queue_url = client("sqs", endpoint).create_queue(QueueName=queue_name)["QueueUrl"]
    key_arn = client("kms", endpoint).create_key(Description="clawline package tests")["KeyMetadata"]["Arn"]
    yield LoopbackAws(endpoint, recorder, recorder_url, tables, queue_url, key_arn)
    next(recorder_gen, None)
    server.stop()


@dataclass
class Issuer:
    """An RS256 issuer whose JWKS is served on loopback; tokens are minted with joserfc, a second JOSE library."""

    key: RSAKey
    jwks_url: str

    def token(self, sub: str = "user-123", *, audience: str = AUDIENCE, lifetime: int = 300, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": audience, "sub": sub, "iat": now, "exp": now + lifetime, "scope": "chat"}
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, {**body, **claims}, self.key)

    @staticmethod
    def forged() -> str:
        """Well-formed claims under the issuer's key id, signed by another key."""
        other = RSAKey.generate_key(2048, parameters={"kid": KEY_ID})
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-123", "iat": now, "exp": now + 300}
        return jwt.encode({"alg": "RS256", "kid": KEY_ID}, body, other)


@pytest.fixture(scope="session")
def issuer() -> Iterator[Issuer]:
    key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID, "use": "sig", "alg": "RS256"})
    document = json.dumps({"keys": [key.as_dict(private=False)]}).encode()

    class Jwks(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:
            return

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(document)))
            self.end_headers()
            self.wfile.write(document)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Jwks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Issuer(key, f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json")
    server.shutdown()
    server.server_close()


def function_environment(
    template: Template, logical_id: str, overrides: dict[str, str], rerooted: dict[str, str]
) -> dict[str, str]:
    """The function's environment as deployed (Globals + its own), references resolved to the loopback stack."""
    glob = ((template.data.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
    own = (template.resources[logical_id].get("Properties") or {}).get("Environment") or {}
    raw = {**(glob.get("Variables") or {}), **(own.get("Variables") or {})}
    env: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(value, dict) and "Ref" in value and str(value["Ref"]) in overrides:
            env[name] = overrides[str(value["Ref"])]
        elif isinstance(value, dict) and "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            key = ".".join(att) if isinstance(att, list) else str(att)
            if key not in overrides:
                raise AssertionError(f"{logical_id}.{name}: the package tests cannot emulate !GetAtt {key} yet")
            env[name] = overrides[key]
        else:
            env[name] = str(template.resolve(value))
    for name, value in rerooted.items():
        if name in env:
            env[name] = value
    return env


@dataclass
class Functions:
    by_id: dict[str, EmulatedFunction]

    def __getitem__(self, logical_id: str) -> EmulatedFunction:
        return self.by_id[logical_id]


def loopback_overrides(aws: LoopbackAws, issuer: Issuer) -> dict[str, str]:
    """What the template's references resolve to on the loopback stack."""
    return {
        **aws.tables,
        "DeadLetterQueue": aws.dead_letter_queue_url,
        "DataKey.Arn": aws.kms_key_arn,
        "JwtIssuer": ISSUER,
        "JwtAudience": AUDIENCE,
        "JwksUrl": issuer.jwks_url,
        "JwtAlgorithms": "RS256",
    }


def emulated_function(
    logical_id: str,
    build: SamBuild,
    template: Template,
    layout: LambdaLayout,
    aws: LoopbackAws,
    issuer: Issuer,
    log_dir: Path,
    extra_env: dict[str, str] | None = None,
) -> EmulatedFunction:
    """A built function, not started, with its template environment pointed at the loopback stack and ``layout``."""
    props = template.resources[logical_id]["Properties"]
    glob = (template.data.get("Globals") or {}).get("Function") or {}
    task_root = build.directory / str(props["CodeUri"])
    # What the template points at /opt, pointed at the assembled layout instead.
    rerooted = {"CLAWLINE_BOT_PATH": str(layout.opt / "bots" / "default")}
    env = function_environment(template, logical_id, loopback_overrides(aws, issuer), rerooted)
    env.update(
        {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": f"{task_root}:{layout.opt / 'python'}:{install_awslambdaric()}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_DYNAMODB": aws.endpoint,
            "AWS_ENDPOINT_URL_SQS": aws.endpoint,
            "AWS_ENDPOINT_URL_KMS": aws.endpoint,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": aws.endpoint,
            "AWS_ENDPOINT_URL_SSM": aws.endpoint,
            "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": f"{aws.recorder_url}/dev",
            "AWS_ENDPOINT_URL_IOT_DATA_PLANE": aws.recorder_url,
            # X-Ray cannot be exercised through the emulator (no trace header reaches the runtime).
            "POWERTOOLS_TRACE_DISABLED": "true",
            **(extra_env or {}),
        }
    )
    return EmulatedFunction(
        name=str(template.resolve(props.get("FunctionName", logical_id))),
        task_root=task_root,
        handler=str(props["Handler"]),
        env=env,
        timeout_seconds=int(template.resolve(props.get("Timeout", glob.get("Timeout", 3)))),
        memory_mb=int(template.resolve(props.get("MemorySize", glob.get("MemorySize", 128)))),
        log_path=log_dir / f"{logical_id}.log",
    )


@pytest.fixture(scope="session")
def functions(
    build: SamBuild,
    built_template: Template,
    layout: LambdaLayout,
    aws: LoopbackAws,
    issuer: Issuer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Functions]:
    python313 = require_python313()
    logs = tmp_path_factory.mktemp("rie-logs")
    started: dict[str, EmulatedFunction] = {}
    try:
        for logical_id in built_template.of_type("AWS::Serverless::Function"):
            function = emulated_function(logical_id, build, built_template, layout, aws, issuer, logs)
            started[logical_id] = function.start(python313)
        yield Functions(started)
    finally:
        for function in started.values():
            function.stop()


def with_token(event: dict[str, Any], token: str) -> dict[str, Any]:
    """The sample event with its placeholder token replaced (everywhere it occurs)."""
    replaced: dict[str, Any] = json.loads(json.dumps(event).replace(PLACEHOLDER_TOKEN, token))
    return replaced


@pytest.fixture(scope="session")
def sample(issuer: Issuer) -> Sample:
    """``events/<name>`` with a real token in place of the placeholder."""
    token = issuer.token()
    return lambda name: with_token(load_event(name), token)


def explain(invocation: Invocation) -> str:
    return f"payload={invocation.payload!r}\n--- function log ---\n{invocation.log[-4000:]}"
