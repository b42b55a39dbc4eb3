"""``clawline invoke FUNCTION --event FILE``: the Docker-free ``sam local invoke``; ``clawline generate-event``.

``invoke`` starts what the function talks to (moto for DynamoDB, SQS and KMS with the template's tables, an MQTT
broker and the gateway's @connections and iot-data APIs, all on ephemeral loopback ports, or the endpoints given),
runs the function with the template's environment (from the ``sam build`` output in the Lambda Runtime Interface
Emulator, or ``--in-process`` from the sources) and prints its result. Events are this repository's (``events/``),
``clawline generate-event``'s, or ``sam local generate-event``'s as they come: for an HTTP or WebSocket event,
the authorizer context is filled the way API Gateway does after the authorizer function allowed ``--sub`` (a
development token) or ``--token``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from clawline.cli.dev import _repo_on_path

#: Short names accepted for the template's functions.
ALIASES = {"http": "HttpFunction", "websocket": "WebSocketFunction", "mqtt": "MqttFunction"}
ALIASES["authorizer"] = "AuthorizerFunction"


def register(subparsers: Any) -> None:
    invoke = subparsers.add_parser(
        "invoke",
        help="run one function with one event, without Docker (like `sam local invoke -e`)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    invoke.add_argument("function", help="logical id (HttpFunction...) or http, websocket, mqtt, authorizer")
    invoke.add_argument("--event", "-e", required=True, help="event JSON file ('-': standard input)")
    invoke.add_argument("--in-process", action="store_true", help="import the handler here instead of the emulator")
    invoke.add_argument("--build-dir", type=Path, help="sam build output for the emulator (default: .aws-sam/build)")
    invoke.add_argument("--bot", type=Path, help="bot directory (default: the bot in the build, or bots/default)")
    who = invoke.add_mutually_exclusive_group()
    who.add_argument("--sub", help="the caller: a development token for this subject goes through the authorizer")
    who.add_argument("--token", help="a JWT for the authorizer (with --jwks-url/--issuer of the issuer that signed it)")
    invoke.add_argument("--dynamodb-endpoint", help="use this DynamoDB instead of a moto server started for the call")
    invoke.add_argument("--mqtt-url", help="publish MQTT replies to this broker instead of an embedded one")
    invoke.add_argument("--jwks-url", help="verify tokens with this issuer's keys")
    invoke.add_argument("--issuer", help="expected `iss` with --jwks-url")
    invoke.add_argument("--audience", help="expected `aud` (default: the template's JwtAudience)")
    invoke.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE", help="template parameter")
    invoke.add_argument("--rie-python", help="python3.13 for the emulator (needs awslambdaric importable)")
    invoke.add_argument("--log-level", default="WARNING", help="the function's POWERTOOLS_LOG_LEVEL (default: WARNING)")
    invoke.set_defaults(handler=invoke_command)

    generate = subparsers.add_parser(
        "generate-event",
        help="write an event for one function (http, websocket, mqtt) to standard output",
        description="Events shaped like API Gateway's and the IoT rule's, ready for `clawline invoke` "
        "(or `sam local invoke -e`).",
    )
    generate.add_argument("kind", choices=["http", "websocket", "mqtt"])
    generate.add_argument("--text", default="hello", help="the user's message (default: %(default)s)")
    generate.add_argument("--conversation-id", help="conversation id (http, websocket)")
    generate.add_argument("--message-id", help="message id (default: a random one)")
    generate.add_argument("--route", default="$default", choices=["$connect", "$default", "$disconnect"])
    generate.add_argument("--connection-id", help="WebSocket connection id")
    generate.add_argument("--thing", default="kitchen-1", help="MQTT thing name (the topic's second level)")
    generate.add_argument("--method", default="POST", help="HTTP method (default: POST)")
    generate.add_argument("--path", default="/v1/messages", help="HTTP path, without the stage")
    generate.add_argument("--stage", default="dev", help="API stage (default: dev)")
    generate.set_defaults(handler=generate_command)


def generate_command(args: argparse.Namespace) -> int:
    _repo_on_path()
    from local import events

    options: dict[str, Any] = {"message_id": args.message_id}
    if args.kind == "http":
        options.update(method=args.method.upper(), path=args.path, stage=args.stage)
    elif args.kind == "websocket":
        options.update(route=args.route, connection_id=args.connection_id, stage=args.stage)
    else:
        options.update(thing=args.thing)
    if args.conversation_id and args.kind != "mqtt":
        options["conversation_id"] = args.conversation_id
    print(json.dumps(events.generate(args.kind, args.text, **options), indent=2))
    return 0


def _read_event(source: str) -> Any:
    text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    return json.loads(text)


def _logical_id(name: str, known: list[str]) -> str | None:
    if name in known:
        return name
    alias = ALIASES.get(name.lower())
    if alias in known:
        return alias
    matches = [k for k in known if k.lower() == name.lower() or k.lower() == f"{name.lower()}function"]
    return matches[0] if len(matches) == 1 else None


def _build_dir(fallback: Path) -> Path:
    """``make build``'s output (.aws-sam/build) when there is one, else the package tests' newest build."""
    from local import template as tpl

    made = tpl.ROOT / ".aws-sam" / "build"
    return made if (made / "HttpFunction").is_dir() else fallback


#: ELF e_machine of the architectures the emulator may meet.
_ELF = {62: "x86_64", 183: "arm64"}


def _unrunnable(build_dir: Path) -> str | None:
    """Why the emulator cannot run this build here (missing, or built for another architecture), or None."""
    import platform

    if not (build_dir / "HttpFunction").is_dir():
        return f"no sam build output in {build_dir}: run `make build BOT=... ARCH=x86_64` first, or use --in-process"
    host = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    for native in (build_dir / "EngineLayer" / "python").glob("pydantic_core/*.so"):
        with native.open("rb") as handle:
            built = _ELF.get(int.from_bytes(handle.read(20)[18:20], "little"))
        if built and host and built != host:
            return (
                f"{build_dir} is built for {built} and this machine runs {host}: "
                f"`make build BOT=... ARCH={host}` (or use --in-process)"
            )
    return None


def _built_bot(build_dir: Path) -> Path | None:
    """The one bot a `make build` packaged (``BotLayer/bots/<name>``)."""
    bots = [p for p in (build_dir / "BotLayer" / "bots").glob("*") if (p / "bot.yaml").is_file()]
    return bots[0] if len(bots) == 1 else None


def invoke_command(args: argparse.Namespace) -> int:
    from clawline.cli.dev import _parameters

    _repo_on_path()
    try:
        event = _read_event(args.event)
    except (OSError, json.JSONDecodeError) as exc:
        print(f"clawline invoke: cannot read the event {args.event}: {exc}", file=sys.stderr)
        return 2
    from local import events
    from local import template as tpl
    from local.runtime import DEFAULT_BOT, Options, _default_build_dir

    parameters = _parameters(args.parameter)
    template = tpl.Template.read(tpl.TEMPLATE, **parameters)
    known = list(template.of_type("AWS::Serverless::Function"))
    logical_id = _logical_id(args.function, known)
    if logical_id is None:
        print(f"clawline invoke: no function {args.function!r} (functions: {', '.join(known)})", file=sys.stderr)
        return 2
    build_dir = args.build_dir or (None if args.in_process else _build_dir(_default_build_dir()))
    bot = args.bot or (_built_bot(build_dir) if build_dir is not None else None) or DEFAULT_BOT
    options = Options(
        port=0, mqtt_port=0, moto_port=0, bot=bot, parameters=parameters,
        dynamodb_endpoint=args.dynamodb_endpoint, mqtt_url=args.mqtt_url, jwks_url=args.jwks_url,
        issuer=args.issuer, audience=args.audience, rie=not args.in_process, rie_python=args.rie_python,
        function_log_level=args.log_level, metrics=False,
    )  # fmt: skip
    if build_dir is not None:
        options.build_dir = build_dir
    if build_dir is not None and not args.in_process:
        problem = _unrunnable(build_dir)
        if problem:
            print(f"clawline invoke: {problem}", file=sys.stderr)
            return 2
        code = _ensure_awslambdaric(args.rie_python)
        if code:
            return code
    kind = events.kind_of(event)
    return _run(options, logical_id, event, kind, args)


#: Lambda's bootstrap for python runtimes, installed once for python3.13 beside the build (the package tests' pin).
AWSLAMBDARIC = "awslambdaric==4.2.2"


def _ensure_awslambdaric(python: str | None) -> int:
    """The emulator's bootstrap in ``.aws-sam/awslambdaric-py313`` (where the local runtime looks), installed once."""
    import subprocess
    from types import SimpleNamespace

    from local import template as tpl
    from local.runtime import _runtime_python

    target = tpl.ROOT / ".aws-sam" / "awslambdaric-py313"
    if (target / "awslambdaric").is_dir():
        return 0
    try:
        runtime = str(((tpl.load().get("Globals") or {}).get("Function") or {}).get("Runtime", "python3.13"))
        interpreter = python or _runtime_python({"functions": SimpleNamespace(runtime=runtime)})  # type: ignore[dict-item]
    except FileNotFoundError as exc:
        print(f"clawline invoke: {exc}", file=sys.stderr)
        return 1
    print(f"installing {AWSLAMBDARIC} for {interpreter} into {target} (once)...", file=sys.stderr, flush=True)
    done = subprocess.run(  # noqa: S603 - fixed argv
        [interpreter, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--only-binary=:all:",
         "--target", str(target), AWSLAMBDARIC],
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        print("clawline invoke: could not install awslambdaric; or run with --in-process", file=sys.stderr)
        return 1
    return 0


def _run(options: Any, logical_id: str, event: Any, kind: Any, args: argparse.Namespace) -> int:
    import asyncio
    import os

    from local import events
    from local.functions import FunctionError
    from local.runtime import Runtime

    lines: list[str] = []
    # Only the result goes to standard output (so `clawline invoke ... | jq` works): everything else the function,
    # the emulator and the local services print goes to standard error, the way `sam local invoke` splits them.
    sys.stdout.flush()
    result_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    async def main() -> int:
        runtime = Runtime(options, log=lines.append)
        try:
            await runtime.start()
        except (OSError, RuntimeError) as exc:
            print(f"clawline invoke: cannot start the local services: {exc}", file=sys.stderr)
            return 1
        try:
            mode = "in-process" if args.in_process else f"emulator, build {options.build_dir}"
            print(f"invoking {logical_id} ({mode}; bot {options.bot}; DynamoDB "
                  f"{options.dynamodb_endpoint or runtime.moto_url})", file=sys.stderr)  # fmt: skip
            payload = event
            if kind == "authorizer" and (args.sub or args.token):
                payload = events.with_token(event, args.token or runtime.token(args.sub))
            if kind in ("http", "websocket") and (args.sub or args.token or not _has_identity(event, kind)):
                token = args.token or runtime.token(args.sub or "local-user")
                auth = runtime.functions["AuthorizerFunction"]
                answer = await asyncio.to_thread(
                    lambda: auth.invoke(events.authorizer_event(kind, token)).result(timeout=120)
                )
                context = _context(answer)
                if context is None:
                    print(f"clawline invoke: the authorizer refused the token: {json.dumps(answer)}", file=sys.stderr)
                    return 1
                payload = events.with_authorizer_context(event, kind, context)
                print(f"authorizer context: {json.dumps(context)}", file=sys.stderr)
            _record_replies(runtime, payload, lines)
            function = runtime.functions[logical_id]
            context_of = payload.get("requestContext") or {} if isinstance(payload, dict) else {}
            if kind == "websocket" and context_of.get("eventType") == "MESSAGE":
                # A message arrives on a connection that went through $connect, which recorded it (and its caller).
                connect = events.websocket_event("", route="$connect", connection_id=context_of.get("connectionId"))
                connect = events.with_authorizer_context(connect, "websocket", context_of.get("authorizer") or {})
                connected = await asyncio.to_thread(lambda: function.invoke(connect).result(timeout=300))
                print(f"$connect {context_of.get('connectionId')} first: {json.dumps(connected)}", file=sys.stderr)
            try:
                result = await asyncio.to_thread(lambda: function.invoke(payload).result(timeout=300))
            except FunctionError as exc:
                print(json.dumps(exc.payload(), indent=2), file=result_out, flush=True)
                return 1
            await asyncio.sleep(0.2)  # replies published or posted by the function reach the log
            print(json.dumps(result, indent=2, default=str), file=result_out, flush=True)
            for line in lines:
                print(line, file=sys.stderr)
            return 0
        finally:
            await runtime.stop()

    try:
        return asyncio.run(main())
    finally:
        sys.stdout.flush()
        os.dup2(result_out.fileno(), 1)
        result_out.close()


class _RecordingSocket:
    """Stands for the client of the event's WebSocket connection: what the function posts to it is printed."""

    def __init__(self, connection_id: str, lines: list[str]) -> None:
        self.connection_id, self.lines = connection_id, lines

    async def send_text(self, text: str) -> None:
        self.lines.append(f"@connections POST {self.connection_id}: {text}")

    async def send_bytes(self, data: bytes) -> None:
        self.lines.append(f"@connections POST {self.connection_id}: {data!r}")

    async def close(self, code: int = 1000) -> None:
        self.lines.append(f"@connections DELETE {self.connection_id} ({code})")


def _record_replies(runtime: Any, event: Any, lines: list[str]) -> None:
    """Replies the function sends elsewhere than its result: @connections posts and iot-data publishes."""
    from local.gateway import Connection

    gateway = runtime.gateway
    connection_id = ((event.get("requestContext") or {}) if isinstance(event, dict) else {}).get("connectionId")
    if connection_id:
        socket = _RecordingSocket(connection_id, lines)
        gateway.connections[connection_id] = Connection(connection_id, socket, "203.0.113.10", "clawline-invoke")  # type: ignore[arg-type]
    publish = gateway.publish

    def recording_publish(topic: str, payload: bytes, qos: int, retain: bool) -> None:
        lines.append(f"iot-data publish {topic}: {payload.decode('utf-8', errors='replace')}")
        publish(topic, payload, qos, retain)

    gateway.publish = recording_publish


def _has_identity(event: dict[str, Any], kind: str) -> bool:
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    if kind == "http":
        return bool((authorizer.get("lambda") or {}).get("sub"))
    is_disconnect = (event.get("requestContext") or {}).get("eventType") == "DISCONNECT"
    return is_disconnect or bool(authorizer.get("sub") or authorizer.get("principalId"))


def _context(answer: Any) -> dict[str, Any] | None:
    """The authorizer's context, from a simple response (HTTP API) or an IAM policy (WebSocket)."""
    if not isinstance(answer, dict):
        return None
    if answer.get("isAuthorized") is True:
        return dict(answer.get("context") or {})
    statements = (answer.get("policyDocument") or {}).get("Statement") or []
    if statements and all(s.get("Effect") == "Allow" for s in statements):
        return {**(answer.get("context") or {}), "sub": answer.get("principalId", "")}
    return None
