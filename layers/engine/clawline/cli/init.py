"""``clawline init DIR --template NAME``: a new bot from a complete template; ``clawline init --list``.

Templates are bots in the repository (``templates/<name>/``, and the default bot as ``pizzeria``), each with
stories that pass ``clawline test``, a trained NLU artifact and a README of what to change. The copy is
validated before the command says it is ready.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[4]
#: Template name -> the bot folder it copies (relative to the repository root).
BUILTIN_TEMPLATES = {"pizzeria": "bots/default"}
DEFAULT_TEMPLATE = "faq"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.partial")


def templates(root: Path = ROOT) -> dict[str, Path]:
    """Every template by name, sorted."""
    found = {name: root / path for name, path in BUILTIN_TEMPLATES.items()}
    folder = root / "templates"
    if folder.is_dir():
        found.update({d.name: d for d in folder.iterdir() if (d / "bot.yaml").is_file()})
    return dict(sorted(found.items()))


def register(subparsers: Any) -> None:
    init = subparsers.add_parser(
        "init",
        help="create a bot from a template (clawline init bots/mybot --template faq; --list shows them)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("directory", nargs="?", type=Path, help="the new bot's folder (must not exist, or be empty)")
    init.add_argument("--template", "-t", default=DEFAULT_TEMPLATE, help="template name (default: %(default)s)")
    init.add_argument("--list", action="store_true", help="list the templates and exit")
    init.set_defaults(handler=init_command)


def _description(bot_dir: Path) -> str:
    import yaml

    try:
        data = yaml.safe_load((bot_dir / "bot.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return ""
    return str(data.get("description") or "") if isinstance(data, dict) else ""


def bot_name(directory: Path) -> str:
    """A valid bot name from the folder name (``my-bot`` -> ``my_bot``)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", directory.resolve().name).strip("_") or "bot"
    return name if re.match(r"[A-Za-z_]", name) else f"bot_{name}"[:64]


def _rename(bot_yaml: Path, name: str) -> None:
    # Edit the one line, so the template's comments and layout stay as written.
    text = bot_yaml.read_text(encoding="utf-8")
    renamed, count = re.subn(r"(?m)^name:.*$", f"name: {name}", text, count=1)
    bot_yaml.write_text(renamed if count else f"name: {name}\n{text}", encoding="utf-8")


def _copy_repository_plugins(source: Path, target: Path) -> list[str]:
    """Repository plugin packages (``plugins.sample``) the template uses, copied beside a bot made outside the
    repository, where the plugin search (the bot's folder and its parents) would not find them."""
    from clawline.bot.loader import load_definition

    if target.resolve().is_relative_to(ROOT):
        return []
    definition, _ = load_definition(source)
    copied = []
    for spec in definition.plugins:
        parts = (spec.module or "").split(".")
        if len(parts) < 2 or not (ROOT / parts[0] / "__init__.py").is_file():
            continue
        package = ROOT / parts[0] / parts[1]
        if not package.is_dir() or source.resolve().is_relative_to(package):
            continue
        (target / parts[0]).mkdir(exist_ok=True)
        shutil.copy2(ROOT / parts[0] / "__init__.py", target / parts[0] / "__init__.py")
        shutil.copytree(package, target / parts[0] / parts[1], ignore=shutil.ignore_patterns("tests", "__pycache__"))
        copied.append(".".join(parts[:2]))
    return copied


def init_command(args: argparse.Namespace) -> int:
    found = templates()
    if args.list:
        width = max(map(len, found), default=0)
        for name, path in found.items():
            print(f"{name:<{width}}  {_description(path)}")
        return 0
    if args.directory is None:
        print("clawline init: give the new bot's folder: clawline init bots/mybot --template faq", file=sys.stderr)
        return 2
    source = found.get(args.template)
    if source is None:
        print(f"clawline init: no template {args.template!r} (templates: {', '.join(found)})", file=sys.stderr)
        return 2
    target: Path = args.directory
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        print(f"clawline init: {target} already exists and is not empty; choose another folder", file=sys.stderr)
        return 1
    shutil.copytree(source, target, ignore=_IGNORED, dirs_exist_ok=True)
    name = bot_name(target)
    _rename(target / "bot.yaml", name)
    copied = _copy_repository_plugins(source, target)
    from clawline.bot.compiled import Bot
    from clawline.errors import ConfigurationError

    try:
        Bot.load(target)
    except ConfigurationError as exc:
        print(f"created {target} from {args.template!r}, but it does not validate:\n{exc.message}", file=sys.stderr)
        return 1
    extra = f" (with {', '.join(copied)} copied beside it)" if copied else ""
    print(
        f"created bot {name!r} in {target} from the {args.template!r} template{extra}.\n"
        f"  read        {target / 'README.md'}  (what to change)\n"
        f"  check       clawline validate {target} && clawline test {target}\n"
        f"  chat        clawline chat {target}   or   clawline dev --bot {target}\n"
        f"  retrain     clawline train --bot {target}   (after changing intents)\n"
        f"  package     make build BOT={target}   then   make deploy   (docs/deploy.md)"
    )
    return 0
