"""Plugin commands: ``plugins list`` (installed plugins and what they may reach) and ``plugins policy`` (the IAM
statements a bot's plugins declare; ``--apply`` writes them into a built template's message functions)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_BOT = "bots/default"


def register(subparsers: Any) -> None:
    plugins = subparsers.add_parser("plugins", help="list plugins and their permissions; IAM from a bot's plugins")
    commands = plugins.add_subparsers(dest="plugins_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="installed plugins (entry points and plugins/*/) with permissions")
    listing.add_argument(
        "--dir", type=Path, action="append", help="a folder of plugin packages (default: ./plugins when present)"
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=list_command)

    policy = commands.add_parser("policy", help="the IAM statements the bot's enabled plugins declare")
    policy.add_argument("--bot", default=DEFAULT_BOT, help="bot directory (default: %(default)s)")
    policy.add_argument(
        "--apply",
        type=Path,
        metavar="TEMPLATE",
        help="write the statements into the message functions' Policies of this (built) template",
    )
    policy.set_defaults(handler=policy_command)


@dataclass(frozen=True)
class Listed:
    source: str
    manifest_path: Path
    manifest: Any = None
    error: str | None = None


def discover(directories: list[Path] | None) -> list[Listed]:
    """Entry points of the ``clawline.plugins`` group, then the packages in ``directories`` (by manifest path)."""
    import importlib.util
    from importlib.metadata import entry_points

    from clawline.plugins.loader import ENTRY_POINT_GROUP
    from clawline.plugins.manifest import MANIFEST_FILE, ManifestError, manifest_path, read_manifest

    found: dict[Path, Listed] = {}
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        class_name = ep.attr.split(".")[-1] if ep.attr else None
        try:
            spec = importlib.util.find_spec(ep.module)
        except (ImportError, ValueError) as exc:
            found[Path(ep.value)] = Listed(f"entry point {ep.name}", Path(ep.value), error=str(exc))
            continue
        if spec is None or spec.origin is None:
            found[Path(ep.value)] = Listed(f"entry point {ep.name}", Path(ep.value), error="module not found")
            continue
        path = manifest_path(Path(spec.origin)).resolve()
        try:
            found[path] = Listed(f"entry point {ep.name}", path, read_manifest(path, class_name))
        except ManifestError as exc:
            found[path] = Listed(f"entry point {ep.name}", path, error=str(exc))
    default = Path("plugins")
    for directory in directories if directories is not None else ([default] if default.is_dir() else []):
        for path in sorted(directory.glob(f"*/{MANIFEST_FILE}")):
            resolved = path.resolve()
            if resolved in found:
                continue
            try:
                found[resolved] = Listed(f"{path.parent}/", resolved, read_manifest(path))
            except ManifestError as exc:
                found[resolved] = Listed(f"{path.parent}/", resolved, error=str(exc))
    return sorted(found.values(), key=lambda item: item.manifest.name if item.manifest else item.source)


def _permissions(manifest: Any) -> dict[str, Any]:
    p = manifest.permissions
    return {
        "network": list(p.network),
        "aws": [{"actions": list(a.actions), "resources": list(a.resources)} for a in p.aws],
        "secrets": list(p.secrets),
    }


def list_command(args: argparse.Namespace) -> int:
    items = discover(args.dir)
    if args.json:
        rows = [
            {"source": i.source, "error": i.error}
            if i.manifest is None
            else {
                "name": i.manifest.name,
                "version": i.manifest.version,
                "description": i.manifest.description,
                "source": i.source,
                "hooks": list(i.manifest.hooks),
                "timeout_ms": i.manifest.timeout_ms,
                "permissions": _permissions(i.manifest),
            }
            for i in items
        ]
        print(json.dumps(rows, indent=2))
        return 1 if any(i.error for i in items) else 0
    for item in items:
        if item.manifest is None:
            print(f"!! {item.source}: {item.error}")
            continue
        m = item.manifest
        print(f"{m.name} {m.version}  ({item.source})  hooks: {', '.join(m.hooks)}")
        print(f"    {m.description}")
        perms = _permissions(m)
        print(f"    network: {', '.join(perms['network']) or 'none'}")
        aws = "; ".join(f"{', '.join(a['actions'])} on {', '.join(a['resources'])}" for a in perms["aws"])
        print(f"    aws:     {aws or 'none'}")
        print(f"    secrets: {', '.join(perms['secrets']) or 'none'}")
    print(f"{sum(1 for i in items if i.manifest)} plugin(s)")
    return 1 if any(i.error for i in items) else 0


def policy_command(args: argparse.Namespace) -> int:
    from clawline.bot.compiled import Bot
    from clawline.errors import ConfigurationError
    from clawline.plugins import policy

    try:
        bot = Bot.load(args.bot)
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        return 1
    statements = policy.statements(bot.plugins)
    if args.apply is None:
        print(json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2))
        return 0
    try:
        policy.apply_to_file(args.apply, statements)
    except (OSError, ValueError) as exc:
        print(f"{args.apply}: {exc}", file=sys.stderr)
        return 1
    print(f"{args.apply}: {len(statements)} plugin statement(s) in {', '.join(policy.MESSAGE_FUNCTIONS)}")
    return 0
