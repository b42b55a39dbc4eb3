"""Bot commands: ``validate``, ``test``, ``chat`` and ``import-rasa``."""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

DEFAULT_BOT = "bots/default"


def register(subparsers: Any) -> None:
    validate = subparsers.add_parser("validate", help="check a bot definition; every problem names file and line")
    validate.add_argument("bot", nargs="?", default=DEFAULT_BOT, help="bot directory (default: %(default)s)")
    validate.add_argument("--no-plugins", action="store_true", help="do not import the bot's plugins")
    validate.set_defaults(handler=validate_command)

    test = subparsers.add_parser("test", help="run conversation stories (YAML) against the bot")
    test.add_argument("bot", nargs="?", default=DEFAULT_BOT, help="bot directory (default: %(default)s)")
    test.add_argument("--stories", nargs="+", type=Path, help="story files or directories (default: BOT/stories)")
    test.add_argument("--junit", type=Path, help="write JUnit XML results here")
    test.add_argument(
        "--target",
        choices=["engine", "http", "websocket", "mqtt"],
        default="engine",
        help="in-process engine (default) or a running endpoint",
    )
    test.add_argument("--url", help="HTTP base URL or WebSocket URL of the target")
    test.add_argument("--token", help="bearer token for http/websocket targets")
    test.add_argument("--mqtt-host", default="127.0.0.1")
    test.add_argument("--mqtt-port", type=int, default=1883)
    test.add_argument(
        "--now", type=datetime.fromisoformat, help="engine target: the time rules see (ISO 8601), for time rules"
    )
    test.set_defaults(handler=test_command)

    chat = subparsers.add_parser("chat", help="chat with the bot in the terminal (in-process engine)")
    chat.add_argument("bot", nargs="?", default=DEFAULT_BOT, help="bot directory (default: %(default)s)")
    chat.add_argument("--channel", default="cli", choices=["cli", "http", "websocket", "mqtt", "test"])
    chat.add_argument("--sender", default="you")
    chat.add_argument("--debug", action="store_true", help="show intent, confidence, slots and the rules that fired")
    chat.set_defaults(handler=chat_command)

    rasa = subparsers.add_parser("import-rasa", help="convert a Rasa nlu.yml into intents and entities")
    rasa.add_argument("nlu_file", type=Path)
    rasa.add_argument("--out", type=Path, help="write the YAML here (default: standard output)")
    rasa.set_defaults(handler=import_rasa_command)


def validate_command(args: argparse.Namespace) -> int:
    from clawline.bot.compiled import Bot
    from clawline.bot.yaml_traps import bot_files, find_traps
    from clawline.errors import ConfigurationError

    for file in bot_files(Path(args.bot)):
        for trap in find_traps(file):
            print(f"warning: {trap}", file=sys.stderr)
    try:
        bot = Bot.load(args.bot, load_plugins=not args.no_plugins)
    except ConfigurationError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    d = bot.definition
    print(
        f"ok: bot {d.name!r} ({d.settings.mode.value} mode): {len(d.intents)} intents, {len(d.entities)} entities, "
        f"{len(d.slots)} slots, {len(d.responses)} responses, {len(bot.rules)} rules, {len(bot.plugins)} plugins"
    )
    return 0


def _engine(bot_path: str, now: datetime | None = None) -> Any:
    from clawline.engine import load_engine
    from clawline.store.memory import InMemoryConversationStore

    fixed = now if now is None or now.tzinfo else now.replace(tzinfo=UTC)
    return load_engine(bot_path, InMemoryConversationStore(), clock=(lambda: fixed) if fixed else None)


def _target(args: argparse.Namespace) -> Any:
    from clawline.stories import runner

    if args.target == "engine":
        engine = _engine(args.bot, args.now)
        asyncio.run(engine.setup())
        return runner.EngineTarget(engine)
    if args.target == "mqtt":
        return runner.MqttTarget(args.mqtt_host, args.mqtt_port)
    if not args.url:
        raise SystemExit(f"--url is required for the {args.target} target")
    if args.target == "http":
        return runner.HttpTarget(args.url, args.token)
    return runner.WebSocketTarget(args.url, args.token)


def test_command(args: argparse.Namespace) -> int:
    from clawline.errors import ConfigurationError
    from clawline.stories.junit import junit_xml
    from clawline.stories.models import load_stories
    from clawline.stories.runner import run_stories

    paths = args.stories or [Path(args.bot) / "stories"]
    try:
        stories = load_stories(paths)
        target = _target(args)
    except ConfigurationError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    if not stories:
        print(f"no stories found in {', '.join(map(str, paths))}", file=sys.stderr)
        return 1
    results = asyncio.run(run_stories(target, stories))
    for result in results:
        if result.not_applicable is not None:
            print(f"SKIP  {result.story.name}  ({result.story.file}:{result.story.line}): {result.not_applicable}")
            continue
        status = "PASS" if result.passed else "FAIL"
        print(f"{status}  {result.story.name}  ({result.story.file}:{result.story.line})")
        for failure in result.failures:
            print(f"      {failure}")
        for skipped in result.skipped:
            print(f"      not checked: {skipped}")
    failed = sum(not r.passed for r in results)
    elsewhere = sum(r.not_applicable is not None for r in results)
    summary = f"{len(results) - failed - elsewhere} passed, {failed} failed"
    print(summary + (f", {elsewhere} not applicable" if elsewhere else ""))
    if args.junit:
        args.junit.parent.mkdir(parents=True, exist_ok=True)
        args.junit.write_text(junit_xml(results), encoding="utf-8")
    return 1 if failed else 0


def chat_command(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    from clawline.errors import ClawlineError
    from clawline.messages import Channel, InboundMessage

    source, out = stdin or sys.stdin, stdout or sys.stdout
    try:
        engine = _engine(args.bot)
    except ClawlineError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    interactive = source.isatty()
    conversation = f"chat-{uuid.uuid4().hex[:8]}"
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(engine.setup())
        print(f"Chatting with {engine.bot.name!r}. /quit to leave, /debug to toggle details.", file=out)
        debug, n = args.debug, 0
        while True:
            if interactive:
                print("you> ", end="", file=out, flush=True)
            line = source.readline()
            if not line:
                break
            text = line.rstrip("\n")
            if text.strip() in ("/quit", "/exit"):
                break
            if text.strip() == "/debug":
                debug = not debug
                continue
            n += 1
            try:
                message = InboundMessage(
                    message_id=f"{conversation}-{n}",
                    channel=Channel(args.channel),
                    conversation_id=conversation,
                    sender=args.sender,
                    text=text,
                )
                reply = loop.run_until_complete(engine.handle(message))
            except (ClawlineError, ValueError) as exc:
                print(f"  ! {exc}", file=out)
                continue
            for m in reply.messages:
                buttons = f"  [{' | '.join(m.buttons)}]" if m.buttons else ""
                print(f"bot> {m.text}{buttons}", file=out)
            for action in reply.actions:
                print(f"  ({action.type}: {action.params})", file=out)
            if debug:
                print(
                    f"  intent={reply.intent} confidence={reply.confidence} slots={reply.slots} rules={reply.trace}",
                    file=out,
                )
    finally:
        loop.close()
    return 0


def import_rasa_command(args: argparse.Namespace) -> int:
    import yaml

    from clawline.bot.rasa import import_rasa
    from clawline.errors import ConfigurationError

    try:
        result = import_rasa(args.nlu_file)
    except ConfigurationError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    header = f"# Imported from {args.nlu_file} by `clawline import-rasa`; include it from bot.yaml.\n"
    text = header + yaml.safe_dump(result.as_definition(), sort_keys=False, allow_unicode=True, width=120)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {len(result.intents)} intents and {len(result.entities)} entities to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 0
