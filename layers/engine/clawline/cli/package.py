"""``clawline package BOT --out DIR``: the bot as the bot layer ships it (what ``make build BOT=...`` runs).

The bot is validated first (an invalid bot fails the build with every problem located by file and line), copied
without what never runs in Lambda (stories, caches), its validated definition written beside it for cold starts to
load without parsing YAML (``.prebuilt/``, see ``clawline.bot.prebuilt``), and its NLU artifact is trained into the
copy when the committed one is missing or stale, so no cold start trains a model. Plugins beside the bot are copied
with it; packaging/Makefile then compiles their bytecode with the Lambda runtime's Python.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

#: Never needed at run time: the conversation tests, caches and half-written files.
EXCLUDED = ("stories", "__pycache__", "*.pyc", ".pytest_cache", "*.partial", ".DS_Store", ".prebuilt")


def register(subparsers: Any) -> None:
    package = subparsers.add_parser(
        "package",
        help="validate a bot, train its NLU if stale, and copy it as the bot layer ships it (make build runs it)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    package.add_argument("bot", type=Path, help="bot directory")
    package.add_argument("--out", type=Path, required=True, help="where the packaged bot goes (replaced)")
    package.set_defaults(handler=package_command)


def artifact_is_fresh(intents: dict[str, list[str]], oos_examples: list[str], artifact: Path) -> bool:
    """Whether ``artifact`` was trained from exactly these examples (the check the engine makes at cold start)."""
    from clawline.nlu.annotations import parse_annotated, split_examples
    from clawline.nlu.linear import peek_header
    from clawline.nlu.recipe import LinearRecipe, fingerprint

    plain, _ = split_examples(intents)
    expected = fingerprint(plain, [parse_annotated(t).text for t in oos_examples], LinearRecipe().with_seed(0))
    header = peek_header(artifact)
    return header is not None and header.get("meta", {}).get("fingerprint") == expected


def package_command(args: argparse.Namespace) -> int:
    from clawline.bot.compiled import Bot
    from clawline.errors import ConfigurationError

    source: Path = args.bot
    # Progress on standard output (sam build shows it), problems on standard error (sam build shows them on failure).
    print(f"clawline package: validating {source}", flush=True)
    try:
        bot = Bot.load(source)
    except ConfigurationError as exc:
        print(f"clawline package: {source} is not a valid bot, nothing was packaged.\n{exc.message}", file=sys.stderr)
        return 1
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(source, out, ignore=shutil.ignore_patterns(*EXCLUDED), symlinks=False)
    from clawline.bot import prebuilt

    # The definition validated once more from the copy, for cold starts to load without YAML (clawline.bot.prebuilt).
    prebuilt.write(out)
    definition = bot.definition
    note = "no intents, no NLU model"
    if definition.intents:
        from clawline.engine import model_file_name

        default = definition.settings.language
        notes = []
        # One model per language with examples: nlu.npz for the default language, nlu.<lang>.npz for the others.
        for language in definition.nlu_languages():
            name = model_file_name("linear", None if language == default else language)
            notes.append(_fresh_model(definition, language, source, out / "model" / name))
        note = "; ".join(notes)
    print(
        f"clawline package: bot {definition.name!r} -> {out} ({len(definition.intents)} intents, "
        f"{len(definition.rules)} rules, {len(bot.plugins)} plugins; {note})"
    )
    return 0


def _fresh_model(definition: Any, language: str, source: Path, artifact: Path) -> str:
    """Train ``artifact`` (one language's model) into the build when the copied one is missing or stale."""
    from clawline.cli.nlu import ProgressBar, _limit_blas_threads
    from clawline.engine import nlu_inputs

    inputs = nlu_inputs(definition, language)
    if artifact_is_fresh(inputs["intents"], inputs["oos_examples"], artifact):
        return f"NLU model {artifact.name} up to date"
    _limit_blas_threads()
    from clawline.nlu.backend import train_artifact

    print(
        f"clawline package: {source / 'model' / artifact.name} is missing or stale: training it into the build "
        f"(run `clawline train --bot {source}` to update your copy)",
        flush=True,
    )
    model = train_artifact(inputs["intents"], oos_examples=inputs["oos_examples"], progress=ProgressBar())
    model.save(artifact)
    return f"NLU model {artifact.name} trained for this build"
