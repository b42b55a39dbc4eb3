"""The local runtime: moto (DynamoDB, SQS), an MQTT broker, the gateway and the IoT rule emulator, wired to
the template's functions, on 127.0.0.1. ``clawline dev`` runs it; the e2e tests and the load benchmark start
it in-process with :class:`RuntimeThread`.

Functions reach the local services only through boto3's standard ``AWS_ENDPOINT_URL_<SERVICE>`` variables;
nothing in the functions or the engine knows it runs locally.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local import iotsql, state
from local import template as tpl
from local.console import Console
from local.devauth import DevIssuer
from local.functions import (
    AsyncEvent,
    AsyncInvoker,
    Function,
    FunctionError,
    InProcessFunction,
    ProcessFunction,
    RieFunction,
    RieLayout,
)
from local.gateway import WS_MESSAGE_BYTES, Gateway, Limits
from local.mqtt import EmbeddedBroker, Publisher, RuleEngine, RuleSubscriber, parse_broker_url
from local.telemetry import EmfTap, MetricsStore

HOST = "127.0.0.1"
DEFAULT_BOT = tpl.ROOT / "bots" / "default"
#: moto takes any key. The secret is made per run: the gateway's @connections API accepts only requests signed
#: with it (local/sigv4.py), as IAM accepts only the function's role on AWS.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "ASIALOCALCLAWLINE000",
    "AWS_SECRET_ACCESS_KEY": secrets.token_urlsafe(30),
    "AWS_SESSION_TOKEN": "clawline-local",
}


class PortInUseError(RuntimeError):
    """A port the runtime was told to use is taken."""


@dataclass
class Options:
    port: int = 3000  # the gateway (HTTP API, WebSocket API, @connections, iot-data)
    mqtt_port: int = 1883
    moto_port: int = 8000
    bot: Path = DEFAULT_BOT
    template: Path = tpl.TEMPLATE
    parameters: dict[str, str] = field(default_factory=dict)
    dynamodb_endpoint: str | None = None
    mqtt_url: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    rie: bool = False
    isolated: bool = False  # each function in its own Python process instead of a thread of this one
    build_dir: Path | None = None  # None: the package tests' x86_64 build if complete, else .aws-sam/build
    rie_binary: Path | None = None
    rie_python: str | None = None
    retry_delays: tuple[float, ...] = (1.0, 2.0)
    idle_seconds: float = 600.0
    lifetime_seconds: float = 7200.0
    function_log_level: str | None = None  # None keeps the template's POWERTOOLS_LOG_LEVEL
    metrics: bool = True  # False: no EMF lines on stdout (collected for the console and /metrics all the same)
    console: bool = True  # /_console and /metrics (charts and traces need the in-process functions)
    state_dir: Path | None = None  # keep conversations across restarts (local/state.py)
    reminder_poll_seconds: float = 1.0  # how often due reminder schedules fire (local/reminders.py); 0: never


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def bind(port: int, what: str) -> socket.socket:
    """A listening socket on 127.0.0.1:port, or a message that says which port is taken and what for."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"port {port} ({what}) is already in use on {HOST}: stop what uses it, or choose "
                f"another port (see `clawline dev --help`)"
            ) from exc
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _runtime_credentials() -> Any:
    """The credentials the functions sign with (this process's environment, set by ``_set_environment``)."""
    import boto3

    found = boto3.Session().get_credentials()
    return found.get_frozen_credentials() if found is not None else None


def check_free(port: int, what: str) -> None:
    bind(port, what).close()


class _Server:
    """uvicorn's server without its signal handling: the runtime owns Ctrl-C and stops every part in order."""

    def __init__(self, app: Any, port: int) -> None:
        import uvicorn
        import websockets.http11

        # The WebSocket handshake is parsed again by websockets, whose 8 KB line limit made uvicorn drop an upgrade
        # with one long header without answering (the client hung until its timeout). Past h11's own limits, the
        # gateway answers an oversized upgrade with 431 itself (local/gateway.py, WS_HEADER_BYTES).
        websockets.http11.MAX_LINE_LENGTH = max(websockets.http11.MAX_LINE_LENGTH, 64 * 1024)

        class Quiet(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        config = uvicorn.Config(
            app,
            host=HOST,
            port=port,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
            ws_max_size=WS_MESSAGE_BYTES,
            ws_ping_interval=None,
            timeout_graceful_shutdown=5,
        )
        self.server = Quiet(config)


def _moto_process(port: int) -> subprocess.Popen[bytes]:
    def die_with_parent() -> None:  # Linux: moto goes when the runtime goes, even on SIGKILL
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tpl.ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "local.motoserver", "-H", HOST, "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=die_with_parent,  # noqa: PLW1509
    )


def _wait_http(url: str, timeout: float, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback
                return
        except urllib.error.HTTPError:
            return  # it answers
        except (urllib.error.URLError, OSError) as exc:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{url}: the server exited with {process.returncode}") from exc
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout:.0f} s") from exc
            time.sleep(0.05)


class Runtime:
    """Everything ``make run`` serves. ``await start()`` then ``await stop()``, on one event loop."""

    def __init__(self, options: Options | None = None, *, log: Callable[[str], None] | None = None) -> None:
        self.options = options or Options()
        self.log = log or (lambda line: print(line, flush=True))
        parameters = dict(self.options.parameters)
        if self.options.state_dir is not None:
            # A moto KMS key is new on every start: restored text would not decrypt. A kept Fernet key does.
            parameters = {"FieldEncryption": "fernet", "FernetSecretName": state.FERNET_SECRET_NAME, **parameters}
        self.template = tpl.Template.read(self.options.template, **parameters)
        self._dynamodb: Any = None
        self.functions: dict[str, Function] = {}
        self._factories: dict[str, Callable[[], Function]] = {}  # a new instance of each function (reload_bot)
        self.invokers: dict[str, AsyncInvoker] = {}
        self.issuer: DevIssuer | None = None
        self._moto: subprocess.Popen[bytes] | None = None
        self._broker: EmbeddedBroker | None = None
        self._publisher: Publisher | None = None
        self._subscriber: RuleSubscriber | None = None
        self._server: _Server | None = None
        self.gateway: Gateway | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._reminder_task: asyncio.Task[None] | None = None
        self._saved_env: dict[str, str | None] = {}
        self._sqs: Any = None
        self.port = self.options.port
        self.mqtt_host, self.mqtt_port = HOST, self.options.mqtt_port
        self.moto_url = ""
        self.dead_letter_queue_url = ""
        self.tables: dict[str, str] = {}
        self.buckets: dict[str, str] = {}
        self.device_policies: list[str] = []
        self.telemetry = MetricsStore()
        self.console: Console | None = None
        self._tap: EmfTap | None = None

    # ---------------------------------------------------------------- URLs

    @property
    def gateway_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def http_url(self) -> str:
        stage = tpl.http_api(self.template).stage
        return self.gateway_url if stage in ("", "$default") else f"{self.gateway_url}/{stage}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.port}/{tpl.websocket_api(self.template).stage}"

    def token(self, sub: str, **claims: Any) -> str:
        if self.issuer is None:
            raise RuntimeError("the runtime is not the token issuer (--jwks-url was given)")
        return self.issuer.token(sub, **claims)

    # ---------------------------------------------------------------- start

    async def start(self) -> None:
        opts = self.options
        # Claim the ports first, so a taken one fails before anything starts, with a message that names it.
        gateway_sock = bind(opts.port, "gateway: HTTP and WebSocket APIs")
        self.port = gateway_sock.getsockname()[1]
        try:
            await self._start(gateway_sock)
        except BaseException:
            gateway_sock.close()
            await self.stop()
            raise

    async def _start(self, gateway_sock: socket.socket) -> None:
        opts = self.options
        if opts.mqtt_url is None:
            self.mqtt_port = opts.mqtt_port or free_port()
            check_free(self.mqtt_port, "MQTT broker")
        else:
            self.mqtt_host, self.mqtt_port = parse_broker_url(opts.mqtt_url)
        moto_port = opts.moto_port or free_port()
        check_free(moto_port, "moto: DynamoDB and SQS")

        self._moto = _moto_process(moto_port)
        self.moto_url = f"http://{HOST}:{moto_port}"
        await asyncio.to_thread(_wait_http, f"{self.moto_url}/moto-api/", 30, self._moto)

        self._set_environment()
        await asyncio.to_thread(self._create_resources)
        self._reset_function_caches()
        self._make_functions()
        self._start_console()

        rules = [(spec, iotsql.parse(spec.sql)) for spec in tpl.topic_rules(self.template)]
        engine = RuleEngine(rules, self.invokers, log=self.log)
        if opts.mqtt_url is None:
            self._broker = EmbeddedBroker(HOST, self.mqtt_port, engine.on_message)
            await self._broker.start()
        else:
            self._subscriber = RuleSubscriber(
                self.mqtt_host, self.mqtt_port, [rule.topic_filter for _s, rule in rules], engine.on_message
            )
            await asyncio.to_thread(self._subscriber.start)
        self._publisher = Publisher(self.mqtt_host, self.mqtt_port, "clawline-iot-data")
        await asyncio.to_thread(self._publisher.start)

        gateway = Gateway(
            http_api=tpl.http_api(self.template),
            ws_api=tpl.websocket_api(self.template),
            functions=self.functions,
            publish=self._publisher.publish,
            issuer=self.issuer,
            mint_token=self.token if self.issuer is not None else None,
            limits=Limits(idle_seconds=opts.idle_seconds, lifetime_seconds=opts.lifetime_seconds),
            log=self.log,
            credentials=_runtime_credentials(),
            extra_routes=self.console.routes() if self.console else None,
        )
        self.gateway = gateway
        gateway.status.update(
            {
                "domain": f"{HOST}:{self.port}",
                "http": self.http_url,
                "websocket": self.ws_url,
                "mqtt": f"mqtt://{self.mqtt_host}:{self.mqtt_port}",
                "moto": self.moto_url,
                "dead_letter_queue_url": self.dead_letter_queue_url,
            }
        )
        if self.console is not None:
            self.console.mqtt = (self.mqtt_host, self.mqtt_port)
            self.console.config.update({**gateway.status, "token": self.issuer is not None})
        self._server = _Server(gateway.app, self.port)
        self._serve_task = asyncio.create_task(self._server.server.serve(sockets=[gateway_sock]))
        self._start_reminders()
        while not self._server.server.started:
            if self._serve_task.done():
                self._serve_task.result()
            await asyncio.sleep(0.01)

    def _set_environment(self) -> None:
        opts = self.options
        env: dict[str, str] = {
            # Every other service the functions call (SQS, KMS, Secrets Manager, SSM...) is moto's.
            "AWS_ENDPOINT_URL": self.moto_url,
            "AWS_ENDPOINT_URL_DYNAMODB": opts.dynamodb_endpoint or self.moto_url,
            "AWS_ENDPOINT_URL_SQS": self.moto_url,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.moto_url,
            "AWS_ENDPOINT_URL_SSM": self.moto_url,
            "AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI": f"{self.gateway_url}/{tpl.websocket_api(self.template).stage}",
            "AWS_ENDPOINT_URL_IOT_DATA_PLANE": self.gateway_url,
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            "AWS_REGION": os.environ.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
            # No X-Ray daemon here: the tracer would only complain.
            "POWERTOOLS_TRACE_DISABLED": "1",
        }
        if not opts.dynamodb_endpoint or "AWS_ACCESS_KEY_ID" not in os.environ:
            # moto takes any key; a real DynamoDB endpoint needs the user's own credentials.
            env.update({k: v for k, v in FAKE_CREDENTIALS.items() if not opts.dynamodb_endpoint or k not in os.environ})
        self._apply_env(env)

    def _apply_env(self, env: dict[str, str]) -> None:
        for key, value in env.items():
            if key not in self._saved_env:
                self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value

    def _create_resources(self) -> None:
        import boto3

        opts = self.options
        sqs = boto3.client("sqs", endpoint_url=self.moto_url, region_name="us-east-1")
        queue_urls = {
            logical_id: sqs.create_queue(QueueName=name)["QueueUrl"]
            for logical_id, name in tpl.queues(self.template).items()
        }
        self._sqs = sqs
        self.template.refs.update(queue_urls)
        for logical_id, url in queue_urls.items():
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.template.attributes.update(
                {
                    f"{logical_id}.Arn": arn,
                    f"{logical_id}.QueueUrl": url,
                    f"{logical_id}.QueueName": url.rsplit("/", 1)[1],
                }
            )
        kms = boto3.client("kms", endpoint_url=self.moto_url, region_name="us-east-1")
        for logical_id in self.template.of_type("AWS::KMS::Key"):
            key = kms.create_key(Description=f"clawline local {logical_id}")["KeyMetadata"]
            self.template.refs[logical_id] = key["KeyId"]
            self.template.attributes.update({f"{logical_id}.Arn": key["Arn"], f"{logical_id}.KeyId": key["KeyId"]})
        self.dead_letter_queue_url = next(iter(queue_urls.values()), "")
        # The uploads bucket: presigned PUTs from `POST /v1/uploads` go to moto's S3 (AWS_ENDPOINT_URL).
        self.buckets = tpl.create_buckets(
            boto3.client("s3", endpoint_url=self.moto_url, region_name="us-east-1"), self.template
        )
        self.template.refs.update(self.buckets)
        self.template.attributes.update({f"{k}.Arn": f"arn:aws:s3:::{v}" for k, v in self.buckets.items()})
        scheduler = boto3.client("scheduler", endpoint_url=self.moto_url, region_name="us-east-1")
        for logical_id, res in self.template.of_type("AWS::Scheduler::ScheduleGroup").items():
            name = str(self.template.resolve((res.get("Properties") or {})["Name"]))
            scheduler.create_schedule_group(Name=name)
            self.template.refs[logical_id] = name
        # The device policy, so `clawline device add` and `clawline smoke` provision devices here as in the cloud
        # (the local broker itself checks no certificate). CloudFormation's `${!x}` escape becomes `${x}`.
        iot = boto3.client("iot", endpoint_url=self.moto_url, region_name="us-east-1")
        for logical_id, res in self.template.of_type("AWS::IoT::Policy").items():
            props = res.get("Properties") or {}
            name = str(self.template.resolve(props["PolicyName"]))
            document = json.dumps(self.template.resolve(props["PolicyDocument"])).replace("${!", "${")
            iot.create_policy(policyName=name, policyDocument=document)
            self.template.refs[logical_id] = name
            self.device_policies.append(name)
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=opts.dynamodb_endpoint or self.moto_url,
            region_name=os.environ.get("AWS_REGION", "us-east-1"),
        )
        existing = set(dynamodb.list_tables().get("TableNames", []))
        for logical_id, table in self.template.table_definitions().items():
            name = table["create"]["TableName"]
            self.tables[logical_id] = name
            if name in existing:  # a persistent endpoint (DynamoDB Local, the cloud) keeps its tables
                continue
            dynamodb.create_table(**table["create"])
            dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
            if table["ttl_attribute"]:
                dynamodb.update_time_to_live(
                    TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": table["ttl_attribute"]}
                )
        self._dynamodb = dynamodb
        if opts.state_dir is not None:
            secrets_client = boto3.client("secretsmanager", endpoint_url=self.moto_url, region_name="us-east-1")
            secrets_client.create_secret(Name=state.FERNET_SECRET_NAME, SecretString=state.fernet_key(opts.state_dir))
            if not opts.dynamodb_endpoint:  # a persistent endpoint keeps its items itself
                restored = state.load(dynamodb, self.tables, opts.state_dir)
                self.log(f"State restored from {opts.state_dir}: {restored}")

    def _function_env(self, spec: tpl.FunctionSpec) -> dict[str, str]:
        opts = self.options
        env = dict(spec.environment)
        env["CLAWLINE_BOT_PATH"] = str(opts.bot.resolve())
        if "CLAWLINE_JWKS_URL" in env or "CLAWLINE_JWT_ISSUER" in env:
            env["CLAWLINE_JWKS_URL"] = opts.jwks_url or f"{self.gateway_url}/.well-known/jwks.json"
            env["CLAWLINE_JWT_ISSUER"] = opts.issuer or (
                self.issuer.issuer if self.issuer else env["CLAWLINE_JWT_ISSUER"]
            )
            env["CLAWLINE_JWT_AUDIENCE"] = opts.audience or env.get("CLAWLINE_JWT_AUDIENCE", "clawline")
            env["CLAWLINE_JWT_SECRET_NAME"] = ""
            env["CLAWLINE_JWT_ALGORITHMS"] = env.get("CLAWLINE_JWT_ALGORITHMS") or "RS256"
        if opts.function_log_level:
            env["POWERTOOLS_LOG_LEVEL"] = opts.function_log_level
        if not opts.metrics and not self._tapped:
            env["POWERTOOLS_METRICS_DISABLED"] = "true"
        return env

    def _make_functions(self) -> None:
        opts = self.options
        if opts.jwks_url is None:
            audience = opts.audience or self.template.parameters.get("JwtAudience") or "clawline"
            self.issuer = DevIssuer(issuer=opts.issuer or f"{self.gateway_url}/", audience=audience)
        specs = tpl.functions(self.template)
        envs = {logical_id: self._function_env(spec) for logical_id, spec in specs.items()}
        if opts.rie:
            # awslambdaric is Lambda's own, not the artifact's: the package tests install it here for 3.13.
            ric = tpl.ROOT / ".aws-sam" / "awslambdaric-py313"
            if not (ric / "awslambdaric").is_dir():
                raise FileNotFoundError(f"{ric} has no awslambdaric: run `make package` once (it installs it)")
            layout = RieLayout(
                rie=opts.rie_binary or _default_rie(),
                build_dir=opts.build_dir or _default_build_dir(),
                python=opts.rie_python or _runtime_python(specs),
                extra_path=[ric],
            )
            for logical_id, spec in specs.items():
                rie_env = {**self._env_snapshot(), **envs[logical_id]}
                self._factories[logical_id] = functools.partial(RieFunction, spec, layout, rie_env)
        elif opts.isolated:
            for logical_id, spec in specs.items():
                env = {**os.environ, **envs[logical_id]}
                self._factories[logical_id] = functools.partial(ProcessFunction, spec, env, tpl.ROOT)
        else:
            # One process holds every function, so their variables share os.environ. That is safe only if no two
            # functions give one variable different values; refuse to start otherwise rather than guess.
            merged: dict[str, str] = {}
            for logical_id, env in envs.items():
                for key, value in env.items():
                    if merged.get(key, value) != value:
                        raise RuntimeError(
                            f"{logical_id} sets {key}={value!r} but another function sets "
                            f"{merged[key]!r}: run with --rie to give each function its own environment"
                        )
                    merged[key] = value
            self._apply_env(merged)
            # The engine's logger may exist already (imported above, before this environment): give it the level.
            from clawline.observability import logger

            logger.setLevel(merged.get("POWERTOOLS_LOG_LEVEL", "INFO"))
            sys.path.insert(0, str(tpl.ROOT)) if str(tpl.ROOT) not in sys.path else None  # the bot's plugins
            for logical_id, spec in specs.items():
                self._factories[logical_id] = functools.partial(InProcessFunction, spec)
        self.functions.update({logical_id: make() for logical_id, make in self._factories.items()})
        for logical_id, spec in specs.items():
            if spec.on_failure_queue is not None or any(
                r.function == logical_id for r in tpl.topic_rules(self.template)
            ):
                queue_url = self.template.refs.get(spec.on_failure_queue or "", "")
                self.invokers[logical_id] = AsyncInvoker(
                    self.functions[logical_id],
                    on_failure=self._send_to_queue(queue_url) if queue_url else None,
                    retry_delays=opts.retry_delays,
                    log=self.log,
                    on_done=self._log_async(logical_id),
                )

    def reload_bot(self) -> None:
        """Serve the bot's current files from the next turn on (``clawline dev --reload`` validated them first).

        In-process functions forget their cached engine; the others are replaced by new instances (a new process
        or emulator loads the bot at its cold start), and the old ones are closed after their current turn.
        """
        if not (self.options.rie or self.options.isolated):
            self._reset_function_caches()
            return
        for logical_id, make in self._factories.items():
            old, self.functions[logical_id] = self.functions[logical_id], make()
            if logical_id in self.invokers:
                self.invokers[logical_id].function = self.functions[logical_id]
            old.close()

    @property
    def _tapped(self) -> bool:
        """In-process functions print EMF to this process's stdout, which the console reads."""
        return self.options.console and not (self.options.rie or self.options.isolated)

    def _start_console(self) -> None:
        if not self.options.console:
            return
        self.console = Console(self.telemetry, {}, traced=self._tapped)
        if self._tapped:
            from clawline import observability

            self._tap = EmfTap(self.telemetry, sys.stdout, echo=self.options.metrics)
            self._tap.install()
            observability.turn_observers.append(self.console.turns)

    def _stop_console(self) -> None:
        if self._tap is not None:
            self._tap.uninstall()
            self._tap = None
        if self.console is not None:
            from clawline import observability

            with contextlib.suppress(ValueError):
                observability.turn_observers.remove(self.console.turns)

    def _start_reminders(self) -> None:
        """Fire the reminder plugin's schedules when due (moto keeps them but runs nothing): local/reminders.py."""
        if self.options.reminder_poll_seconds <= 0:
            return
        import boto3

        from local.reminders import ReminderScheduler

        specs = tpl.functions(self.template)
        targets = {specs[logical_id].name: invoker for logical_id, invoker in self.invokers.items()}
        client = boto3.client("scheduler", endpoint_url=self.moto_url, region_name="us-east-1")
        scheduler = ReminderScheduler(client, targets, log=self.log)
        self._reminder_task = asyncio.create_task(scheduler.run(self.options.reminder_poll_seconds))

    def _env_snapshot(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if k.startswith(("AWS_", "POWERTOOLS_"))}

    def _send_to_queue(self, queue_url: str) -> Callable[[dict[str, Any]], None]:
        def send(record: dict[str, Any]) -> None:
            self._sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record, default=str))

        return send

    def _log_async(self, logical_id: str) -> Callable[[AsyncEvent, Any, FunctionError | None], None]:
        def done(item: AsyncEvent, result: Any, error: FunctionError | None) -> None:
            source = f"MQTT {item.event.get('thing', '?')}"
            if item.event.get("type") == "clawline.reminder":
                source = f"Reminder {item.event.get('schedule', '?')}"
            elapsed = (time.time() - item.received) * 1000
            outcome = f"error {error.error_type}" if error else (result or {}).get("status", "ok")
            self.log(f"{source} -> {logical_id} attempt {item.attempts}: {outcome} ({elapsed:.1f} ms)")

        return done

    @staticmethod
    def _reset_function_caches() -> None:
        """Forget what a previous runtime in this process cached (settings, clients, the verifier, queues)."""
        from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

        from clawline import composition

        composition.reset()
        # Powertools keeps one Secrets Manager provider (and its client, bound to the endpoint of its day) per
        # process: a new runtime's moto is another endpoint.
        DEFAULT_PROVIDERS.clear()
        for name in ("http_app", "websocket_handler", "mqtt_handler", "authorizer", "reminder_handler"):
            module = sys.modules.get(name)
            for value in vars(module).values() if module else ():
                if callable(getattr(value, "cache_clear", None)) and getattr(value, "__module__", "") == name:
                    value.cache_clear()

    # ---------------------------------------------------------------- stop

    async def stop(self) -> None:
        """Stop in the order that loses nothing: no new requests, sockets closed ($disconnect sent), rules
        drained, functions, broker, moto. Every port is free when this returns."""
        if self._reminder_task is not None:
            self._reminder_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reminder_task
            self._reminder_task = None
        if self._server is not None and self._serve_task is not None:
            self._server.server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._serve_task, 15)
        self._server = None
        if self._subscriber is not None:
            await asyncio.to_thread(self._subscriber.stop)
            self._subscriber = None
        for invoker in self.invokers.values():
            await asyncio.to_thread(invoker.wait_idle, 5)
            await asyncio.to_thread(invoker.close)
        self.invokers.clear()
        if self._publisher is not None:
            await asyncio.to_thread(self._publisher.stop)
            self._publisher = None
        if self._broker is not None:
            with contextlib.suppress(Exception):
                await self._broker.stop()
            self._broker = None
        if self.options.state_dir is not None and self._dynamodb is not None and not self.options.dynamodb_endpoint:
            try:
                saved = await asyncio.to_thread(state.save, self._dynamodb, self.tables, self.options.state_dir)
                self.log(f"State saved to {self.options.state_dir}: {saved}")
            except Exception as exc:  # noqa: BLE001 - the previous snapshot stays; say why this one is missing
                self.log(f"State NOT saved to {self.options.state_dir}: {exc}")
        for function in self.functions.values():
            await asyncio.to_thread(function.close)
        self.functions.clear()
        self._stop_console()
        if self._moto is not None:
            self._moto.terminate()
            try:
                await asyncio.to_thread(self._moto.wait, 10)
            except subprocess.TimeoutExpired:
                self._moto.kill()
                await asyncio.to_thread(self._moto.wait, 5)
            self._moto = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()
        with contextlib.suppress(Exception):
            self._reset_function_caches()

    # ---------------------------------------------------------------- what to print

    def banner(self, sub: str = "alice") -> str:
        ws_stage = tpl.websocket_api(self.template).stage
        mode = (
            "in the Lambda Runtime Interface Emulator"
            if self.options.rie
            else "one process each"
            if self.options.isolated
            else "in-process"
        )
        lines = [
            f"Clawline local runtime: bot {self.options.bot}, functions {mode}",
            f"  HTTP API      {self.http_url}",
            f"  WebSocket     {self.ws_url}",
            f"  @connections  {self.gateway_url}/{ws_stage}/@connections/{{connection_id}}",
            f"  MQTT broker   mqtt://{self.mqtt_host}:{self.mqtt_port}   (publish clawline/THING/in, replies on "
            "clawline/THING/out)",
            f"  DynamoDB      {self.options.dynamodb_endpoint or self.moto_url}   "
            f"tables: {', '.join(self.tables.values())}",
            f"  Dead letters  {self.dead_letter_queue_url}",
            f"  Uploads       {self.moto_url}   bucket {', '.join(self.buckets.values()) or '-'} "
            "(POST /v1/uploads presigns a PUT there)",
            f"  IoT devices   {self.moto_url}   policy {', '.join(self.device_policies) or '-'} "
            f"(clawline device add THING --policy NAME --endpoint-url {self.moto_url})",
        ]
        emulators = {k: f.url for k, f in self.functions.items() if isinstance(f, RieFunction)}
        if emulators:
            lines.append("  Emulators     (Lambda invoke API of each function's Runtime Interface Emulator)")
            lines += [f"    {logical_id:<20} {url}" for logical_id, url in emulators.items()]
        if self.console is not None:
            lines += [
                f"  Console       {self.gateway_url}/_console   (chat, device, turn traces, live charts)",
                f"  Metrics       {self.gateway_url}/metrics   (Prometheus text format)",
            ]
        if self.issuer is not None:
            token = self.token(sub)
            lines += [
                f"  JWKS          {self.gateway_url}/.well-known/jwks.json   (issuer {self.issuer.issuer}, audience "
                f"{self.issuer.audience})",
                "",
                f"A development token for sub {sub!r} (12 h; another: clawline dev token --sub bob):",
                f"  export TOKEN={token}",
            ]
        else:
            lines += ["", "Tokens come from your issuer; export TOKEN=<a JWT it signed>."]
        body = json.dumps({"text": "hi", "conversation_id": "demo"})
        mqtt_body = json.dumps({"text": "hi", "message_id": "m-1"})
        bin_dir = Path(sys.executable).parent
        h, p = self.mqtt_host, self.mqtt_port
        lines += [
            "",
            "Try it (in another shell, after the export above):",
            "  # HTTP",
            f'  curl -s {self.http_url}/v1/messages -H "Authorization: Bearer $TOKEN" '
            f"-H 'content-type: application/json' -d {shlex.quote(body)}",
            '  # WebSocket: then type a line such as {"text": "hi"}',
            f'  {bin_dir}/python -m websockets "{self.ws_url}?token=$TOKEN"',
            "  # MQTT (mosquitto clients, or the amqtt ones installed in the venv)",
            f"  mosquitto_sub -h {h} -p {p} -t clawline/kitchen-1/out &",
            f"  mosquitto_pub -h {h} -p {p} -t clawline/kitchen-1/in -q 1 -m {shlex.quote(mqtt_body)}",
            f"  {bin_dir}/amqtt_sub --url mqtt://{h}:{p} -t clawline/kitchen-1/out &",
            f"  {bin_dir}/amqtt_pub --url mqtt://{h}:{p} -t clawline/kitchen-1/in -q 1 -m {shlex.quote(mqtt_body)}",
            "",
            "One line per turn follows. Ctrl-C stops everything.",
        ]
        return "\n".join(lines)


def _runtime_python(specs: dict[str, tpl.FunctionSpec]) -> str:
    """The interpreter of the functions' Runtime (python3.13): on PATH, or one of pyenv's."""
    import shutil

    runtimes = {spec.runtime for spec in specs.values()}
    if len(runtimes) != 1:
        raise RuntimeError(f"functions use several runtimes {sorted(runtimes)}: give --rie-python")
    (runtime,) = runtimes
    version = runtime.removeprefix("python")
    # pyenv's own interpreters first: a pyenv shim on PATH may exist and still refuse to run (exit 127).
    candidates = [str(p) for p in sorted(Path.home().glob(f".pyenv/versions/{version}*/bin/{runtime}"), reverse=True)]
    candidates.append(shutil.which(runtime) or "")
    for candidate in filter(None, candidates):
        probe = subprocess.run(  # noqa: S603 - an interpreter path, fixed argv
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2], sys.executable)"],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        words = probe.stdout.split()
        if probe.returncode == 0 and words and words[0] == version:
            return words[1]
    raise FileNotFoundError(f"no working {runtime} interpreter for --rie: install it or give --rie-python")


def _default_build_dir() -> Path:
    """Where `sam build` put the artifacts: the newest x86_64 build the package tests made
    (`.aws-sam/builds/x86_64/<inputs digest>`), else sam's default folder (`make build ARCH=x86_64`)."""
    builds = tpl.ROOT / ".aws-sam" / "builds" / "x86_64"
    package_builds = [p for p in builds.glob("*") if (p / "HttpFunction").is_dir()]
    if package_builds:
        return max(package_builds, key=lambda p: p.stat().st_mtime)
    return tpl.ROOT / ".aws-sam" / "build"


def _default_rie() -> Path:
    candidates = sorted(
        (tpl.ROOT / ".venv-sam").glob("lib/python*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64")
    )
    if not candidates:
        raise FileNotFoundError("the Lambda Runtime Interface Emulator comes with aws-sam-cli: run `make tools`")
    return candidates[0]


class RuntimeThread:
    """The runtime on its own event loop thread, for tests and benchmarks that drive it with blocking clients."""

    def __init__(self, options: Options, *, log: Callable[[str], None] | None = None) -> None:
        self.runtime = Runtime(options, log=log or (lambda _line: None))
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="clawline-runtime", daemon=True)

    def __enter__(self) -> Runtime:
        self._thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.runtime.start(), self._loop).result(90)
        except BaseException:
            self._close_loop()
            raise
        return self.runtime

    def __exit__(self, *_exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.runtime.stop(), self._loop).result(60)
        finally:
            self._close_loop()

    def _close_loop(self) -> None:
        # The default executor's threads (asyncio.to_thread) would outlive a bare loop.close().
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._loop.shutdown_default_executor(), self._loop).result(15)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
