"""The bot's definition validated at build time, loaded by a cold start without parsing YAML or validating again.

``clawline package`` (what ``make build`` runs for the bot layer) validates the bot from its YAML as ever, then
writes ``.prebuilt/definition.pickle`` into the packaged copy: the validated ``BotDefinition``, its source map,
the validated manifests of the bot's plugins and what compiling its conditions found (``Compiled``: each rule's
guards, variables and rewritten CEL source). ``load_bot`` (the functions' ``composition.bot()``) reads it instead of
the YAML: the yaml module alone costs about 20 ms of CPU at a cold start and parsing plus pydantic's validators about
10 more, a tenth of the cold-start floor; unpickling is under a millisecond. The rules, templates and plugins are
still built from that definition by ``Bot.build``; the CEL programs (native objects) are compiled on their first
evaluation, so neither the conditions' analysis (``clawline.rules.analysis``) nor the YAML loader
(``clawline.bot.loader``) is imported, and a turn decided by the rules' Python guards never loads CEL (about 6 ms
in all).

The YAML stays the source of truth. The prebuilt file is used only when its header matches what this process would
produce: the format, pydantic's version, the digest of the engine sources it depends on (the models,
``clawline/bot/models.py`` and ``clawline/plugins/manifest.py``, the checks, ``clawline/bot/compiled.py`` and
``clawline/bot/references.py``, and the analysis of conditions, ``clawline/rules/``: ``CODE_FILES``) and of every
YAML file in the bot's folder. Such a definition passed every check when
it was written, so a cold start skips the checks that can only find problems (references to responses, slots,
intents and entities: about 5 ms) and builds the rest. Anything else (no file, a bot edited
after the build, another engine layer, an unreadable file) loads the YAML, with the same clear errors.

Trust: unpickling runs code, so the file is only ever read from the bot's own folder in the bot layer, written by the
build that ships the bot's plugins (Python code) in the same layer: whoever can change it could change those. Never
a file a user or a request supplies.
"""

from __future__ import annotations

import hashlib
import pickle  # nosec B403 - reads only the build's own file from the bot layer (see the module docstring)
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from clawline.bot.compiled import Bot, Compiled
    from clawline.bot.models import BotDefinition
    from clawline.bot.problems import SourceMap
    from clawline.plugins.manifest import Manifest

PREBUILT_FILE = Path(".prebuilt") / "definition.pickle"
FORMAT = "clawline-prebuilt-bot/1"
_YAML_SUFFIXES = (".yaml", ".yml")


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class Prebuilt(NamedTuple):
    """What the bot layer's prebuilt file holds (see the module docstring)."""

    definition: BotDefinition
    source: SourceMap
    #: The plugins' validated manifests, by (sha256 of the manifest file's bytes, class name).
    manifests: dict[tuple[str, str | None], Manifest]
    #: What compiling the rules' and slots' conditions found (their guards, variables and CEL sources).
    compiled: Compiled


def bot_digest(root: Path) -> str:
    """Digest of every YAML file under the bot's folder (names and bytes): a bot edited after the build differs."""
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.suffix in _YAML_SUFFIXES and p.is_file()):
        digest.update(file.relative_to(root).as_posix().encode() + b"\0" + hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


#: The engine's sources a prebuilt definition depends on, relative to the package: the models its pickled objects
#: are made of, the checks it passed at build time (``load_bot`` skips the ones that can only find problems) and
#: the analysis of its conditions it carries.
CODE_FILES = (
    "bot/models.py",
    "bot/problems.py",
    "plugins/manifest.py",
    "bot/compiled.py",
    "bot/references.py",
    "rules/analysis.py",
    "rules/cel.py",
    "rules/compiler.py",
    "rules/conditions.py",
    "rules/guards.py",
)


def code_digest() -> str:
    """What the pickled objects depend on: pydantic's version and the engine's sources in ``CODE_FILES``."""
    import pydantic

    package = Path(__file__).parent.parent
    digest = hashlib.sha256(pydantic.VERSION.encode())
    for name in CODE_FILES:
        digest.update((package / name).read_bytes())
    return digest.hexdigest()


def header(root: Path) -> dict[str, str]:
    return {"format": FORMAT, "code": code_digest(), "bot": bot_digest(root)}


def write(root: Path) -> Path:
    """Validate the bot in ``root`` from its YAML (raising ``BotDefinitionError`` as ``Bot.load`` does) and write its
    prebuilt definition there; returns the file."""
    from clawline.bot.compiled import Bot, Compiled
    from clawline.bot.loader import load_definition
    from clawline.plugins.manifest import validated_manifests

    definition, source = load_definition(root)
    bot = Bot.build(definition, source, directory=root)  # every check; reads (and remembers) the plugins' manifests
    # Every manifest this process validated: the bot's plugins' among them (one more is used only by a file with
    # the very same bytes and class).
    payload = Prebuilt(definition, source, validated_manifests(), Compiled.of(bot))
    target = root / PREBUILT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(pickle.dumps((header(root), payload), protocol=pickle.HIGHEST_PROTOCOL))
    return target


def read(root: Path) -> Prebuilt | None:
    """The prebuilt definition in ``root`` when it is fresh (see the module docstring), else None."""
    file = root / PREBUILT_FILE
    try:
        raw = file.read_bytes()
    except OSError:
        return None
    try:
        stored, payload = pickle.loads(raw)  # noqa: S301  # nosec B301 - the build's own file (module docstring)
        current = header(root)
    except Exception:  # noqa: BLE001 - any unreadable or incompatible file: the YAML is the source of truth
        return None
    if stored != current or not isinstance(payload, Prebuilt):
        return None
    return payload


def load_bot(path: str | Path, **kwargs: Any) -> Bot:
    """The bot in ``path``: from its prebuilt definition when that is fresh, else from its YAML (``Bot.load``)."""
    from clawline.bot.compiled import Bot

    root = Path(path)
    prebuilt = read(root) if root.is_dir() else None
    if prebuilt is None:
        return Bot.load(root, **kwargs)
    from clawline.plugins.manifest import remember_validated

    remember_validated(prebuilt.manifests)
    # Checked when it was written (``write`` builds the bot from the YAML with every check, and the header names
    # the checking code): only what the bot is made of is built again, its conditions from what compiling them found.
    return Bot.build(
        prebuilt.definition, prebuilt.source, directory=root, checked=True, compiled=prebuilt.compiled, **kwargs
    )
