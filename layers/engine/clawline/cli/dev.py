"""``clawline dev``: the whole bot on 127.0.0.1 (HTTP, WebSocket, MQTT) with no Docker and no AWS account.

The runtime itself lives in the repository's ``local/`` package (it is never deployed); this module only
parses the command line, prints what to try, and turns Ctrl-C into an orderly stop.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Serve the bot exactly as API Gateway and IoT Core would call it, on 127.0.0.1: moto for DynamoDB, SQS and S3
(tables and the uploads bucket from template.yaml), an MQTT broker (amqtt), a gateway for the HTTP and
WebSocket APIs (with the Lambda authorizer, @connections and iot-data publish) and the IoT rule's SQL.
Functions run in this process (default) or, with --rie, from the `sam build` output inside the Lambda Runtime
Interface Emulator.
"""


def register(subparsers: Any) -> None:
    dev = subparsers.add_parser(
        "dev",
        help="run the whole bot locally (HTTP, WebSocket, MQTT)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dev.add_argument("--bot", type=Path, default=None, help="bot directory (default: bots/default)")
    dev.add_argument(
        "--port", type=int, default=3000, help="gateway port: HTTP and WebSocket APIs (default: %(default)s)"
    )
    dev.add_argument("--mqtt-port", type=int, default=1883, help="embedded MQTT broker port (default: %(default)s)")
    dev.add_argument(
        "--moto-port", type=int, default=8000, help="moto server port: DynamoDB, SQS, S3 (default: %(default)s)"
    )
    dev.add_argument("--mqtt-url", help="use this broker instead of the embedded one, e.g. mqtt://127.0.0.1:1884")
    dev.add_argument(
        "--dynamodb-endpoint",
        help="use this DynamoDB instead of moto's (DynamoDB Local, the cloud); "
        "missing tables are created from template.yaml",
    )
    dev.add_argument(
        "--state-dir",
        type=Path,
        help="keep conversations across restarts: tables are saved here on stop and restored on start "
        "(field encryption then uses a Fernet key kept in the same directory)",
    )
    dev.add_argument("--jwks-url", help="verify tokens with this issuer's keys instead of a development key")
    dev.add_argument("--issuer", help="expected `iss` (default: the development issuer)")
    dev.add_argument("--audience", help="expected `aud` (default: the template's JwtAudience)")
    dev.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="template parameter override, e.g. Stage=demo (repeatable)",
    )
    dev.add_argument(
        "--rie",
        action="store_true",
        help="run each function from .aws-sam/build in the Lambda Runtime Interface Emulator",
    )
    dev.add_argument(
        "--isolated",
        action="store_true",
        help="run each function in its own Python process (its own environment and state; functions in parallel)",
    )
    dev.add_argument("--build-dir", type=Path, default=None, help="sam build output (default: .aws-sam/build)")
    dev.add_argument("--rie-python", help="interpreter for --rie (needs awslambdaric importable)")
    dev.add_argument(
        "--retry-delay",
        type=float,
        nargs=2,
        default=[1.0, 2.0],
        metavar=("FIRST", "SECOND"),
        help="seconds before the async retries of the MQTT function (Lambda: about 60 and 120)",
    )
    dev.add_argument(
        "--reminder-poll",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how often due reminder schedules (plugins/reminder) fire; 0 never fires them (default: %(default)s)",
    )
    dev.add_argument("--idle-timeout", type=float, default=600.0, help="WebSocket idle timeout, s (default: 600)")
    dev.add_argument(
        "--max-connection-age", type=float, default=7200.0, help="WebSocket connection lifetime, s (default: 7200)"
    )
    dev.add_argument(
        "--function-log-level",
        default="WARNING",
        help="POWERTOOLS_LOG_LEVEL for the functions (default: %(default)s; the template says INFO)",
    )
    dev.add_argument("--emf", action="store_true", help="print the functions' EMF metric lines (off by default)")
    dev.add_argument("--no-console", dest="console", action="store_false", help="do not serve /_console and /metrics")
    dev.add_argument("--sub", default="alice", help="subject of the printed development token (default: alice)")
    dev.add_argument(
        "--reload",
        action="store_true",
        help="watch the bot's files: a valid change is swapped in without a restart, an invalid one is reported",
    )
    dev.set_defaults(handler=dev_command)

    sub = dev.add_subparsers(dest="dev_command", metavar="SUBCOMMAND")
    token = sub.add_parser("token", help="print a development token from a running `clawline dev`")
    token.add_argument("--sub", default="alice", help="the token's subject (default: %(default)s)")
    token.add_argument("--url", default="http://127.0.0.1:3000", help="the gateway (default: %(default)s)")
    token.set_defaults(handler=token_command)


def _repo_on_path() -> None:
    # `local/` sits beside the engine in the repository; it is not part of the installed package.
    root = Path(__file__).resolve().parents[4]
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))


def _parameters(items: list[str]) -> dict[str, str]:
    parameters = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--parameter wants NAME=VALUE, got {item!r}")
        parameters[name] = value
    return parameters


def _options(args: argparse.Namespace) -> Any:
    _repo_on_path()
    try:
        from local.runtime import DEFAULT_BOT, Options
    except ImportError as exc:
        raise SystemExit(f"clawline dev runs from a clone of the repository, after `make install` ({exc})") from exc

    parameters = _parameters(args.parameter)
    options = Options(
        port=args.port,
        mqtt_port=args.mqtt_port,
        moto_port=args.moto_port,
        bot=args.bot or DEFAULT_BOT,
        parameters=parameters,
        dynamodb_endpoint=args.dynamodb_endpoint,
        mqtt_url=args.mqtt_url,
        jwks_url=args.jwks_url,
        issuer=args.issuer,
        audience=args.audience,
        rie=args.rie,
        isolated=args.isolated,
        rie_python=args.rie_python,
        retry_delays=tuple(args.retry_delay),
        idle_seconds=args.idle_timeout,
        lifetime_seconds=args.max_connection_age,
        function_log_level=args.function_log_level,
        metrics=args.emf,
        state_dir=args.state_dir,
        console=args.console,
        reminder_poll_seconds=args.reminder_poll,
    )
    if args.build_dir is not None:
        options.build_dir = args.build_dir
    if not (options.bot / "bot.yaml").is_file():
        raise SystemExit(f"{options.bot} is not a bot directory (no bot.yaml)")
    return options


def dev_command(args: argparse.Namespace) -> int:
    import asyncio
    import signal
    import warnings

    options = _options(args)
    # Every function shares one powertools Metrics object in this process, which it warns about on each turn.
    warnings.filterwarnings("ignore", module="aws_lambda_powertools.*")
    from local.runtime import PortInUseError, Runtime

    async def serve() -> int:
        runtime = Runtime(options)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await runtime.start()
        except PortInUseError as exc:
            print(f"clawline dev: {exc}", file=sys.stderr)
            return 1
        watcher = None
        try:
            print(runtime.banner(args.sub), flush=True)
            if args.reload:
                from local.reload import BotReloader

                watcher = asyncio.create_task(BotReloader(runtime).run())
                print(f"Watching {options.bot} for changes (--reload).", flush=True)
            await stop.wait()
            print("\nstopping...", flush=True)
        finally:
            if watcher is not None:
                watcher.cancel()
            await runtime.stop()
        print("stopped; every port is free.", flush=True)
        return 0

    return asyncio.run(serve())


def token_command(args: argparse.Namespace) -> int:
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    url = f"{args.url.rstrip('/')}/_local/token?{urllib.parse.urlencode({'sub': args.sub})}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5) as response:  # noqa: S310
            print(json.loads(response.read())["token"])
    except (urllib.error.URLError, OSError) as exc:
        print(
            f"clawline dev token: no development issuer at {args.url} ({exc}); is `clawline dev` running?",
            file=sys.stderr,
        )
        return 1
    return 0
