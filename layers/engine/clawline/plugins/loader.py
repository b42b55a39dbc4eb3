"""Turn the bot's ``plugins:`` list into plugin instances, with an error that says what is missing.

Every plugin ships a manifest (``clawline.plugins.manifest``): a plugin without one, whose hooks differ from it, or
whose ``config:`` breaks its schema does not load. ``{module: "plugins.sample", class: "SamplePlugin", config: {...}}``
imports a module; when its top-level
package is not importable, the bot's directory and its parents are tried (so ``plugins/`` next to ``bots/``
works from any working directory). ``{entry_point: "name"}`` uses the ``clawline.plugins`` entry-point group
of installed distributions.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError

from clawline.bot.models import PluginSpec
from clawline.plugins import config_schema
from clawline.plugins.base import HOOKS
from clawline.plugins.manifest import (
    Manifest,
    ManifestError,
    ResolvedPermissions,
    manifest_path,
    read_manifest,
    resolve,
)
from clawline.plugins.network import install_guard
from clawline.plugins.seed import SeedPlugin
from clawline.plugins.services import PluginServices

ENTRY_POINT_GROUP = "clawline.plugins"
#: How many parent directories of the bot are searched for a plugin's top-level package.
SEARCH_PARENTS = 5


class PluginLoadError(Exception):
    """Raised with a message naming the plugin and what is missing; the bot loader adds file and line."""


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class LoadedPlugin(NamedTuple):
    """A bot's plugin, imported, checked against its manifest and constructed: what the runner calls."""

    name: str
    label: str
    instance: Any
    timeout_s: float
    hooks: frozenset[str]
    manifest: Manifest
    #: The manifest's permissions with the bot's config filled in (hosts, AWS actions, secrets).
    permissions: ResolvedPermissions
    services: PluginServices


def load_plugin(spec: PluginSpec, *, bot_dir: Path | None, default_timeout_ms: int) -> LoadedPlugin:
    cls: Any = _resolve(spec, bot_dir)
    if not inspect.isclass(cls):
        raise PluginLoadError(f"plugin {spec.label}: {cls!r} is not a class")
    try:
        manifest = manifest_for(cls)
    except ManifestError as exc:
        raise PluginLoadError(f"plugin {spec.label}: {exc}") from exc
    declared = getattr(cls, "name", None)
    if isinstance(declared, str) and declared and declared != manifest.name:
        raise PluginLoadError(
            f"plugin {spec.label}: the class is named {declared!r} but its manifest {manifest.path} says "
            f"{manifest.name!r}"
        )
    name = spec.name or manifest.name
    # The manifest's schema first: it is the contract users read, and its errors name the key.
    try:
        config_schema.validate(spec.config, manifest.config)
    except config_schema.ConfigSchemaError as exc:
        where = ".".join(str(p) for p in exc.path) or "config"
        raise PluginLoadError(f"plugin {spec.label}: invalid config: {where}: {exc.message}") from exc
    settings = config_schema.with_defaults(spec.config, manifest.config)
    config_model = getattr(cls, "Config", None)
    config: Any
    if config_model is None:
        config = settings  # the seed's API: a plain dict
    elif inspect.isclass(config_model) and issubclass(config_model, BaseModel):
        config = _typed_config(spec, config_model)
        settings = {**settings, **config.model_dump(by_alias=False)}
    else:
        raise PluginLoadError(f"plugin {spec.label}: `Config` must be a pydantic model (or None for a dict config)")
    if not inspect.iscoroutinefunction(getattr(cls, "setup", None)):
        raise PluginLoadError(f"plugin {spec.label}: `setup` must be an async method")
    hooks = set()
    for hook in (*HOOKS, "process"):
        method = getattr(cls, hook, None)
        if method is None:
            continue
        if not inspect.iscoroutinefunction(method):
            # A blocking hook could not be held to its time budget.
            raise PluginLoadError(f"plugin {spec.label}: hook `{hook}` must be `async def`")
        hooks.add(hook)
    if hooks != set(manifest.hooks):
        raise PluginLoadError(
            f"plugin {spec.label}: manifest {manifest.path} declares hooks {sorted(manifest.hooks)} but the class "
            f"has {sorted(hooks)}"
        )
    try:
        permissions = resolve(manifest, settings)
    except ManifestError as exc:
        raise PluginLoadError(f"plugin {spec.label}: {exc}") from exc
    try:
        instance = _construct(cls, config)
    except Exception as exc:
        raise PluginLoadError(f"plugin {spec.label}: constructor failed: {type(exc).__name__}: {exc}") from exc
    if "process" in hooks:
        instance, hooks = SeedPlugin(instance, name), {"before_rules"}
    budgets = [t for t in (spec.timeout_ms, manifest.timeout_ms) if t]
    timeout_ms = min(budgets) if budgets else default_timeout_ms
    install_guard()
    services = PluginServices(name, permissions, bot_dir=bot_dir)
    return LoadedPlugin(
        name, spec.label, instance, timeout_ms / 1000, frozenset(hooks), manifest, permissions, services
    )


def manifest_for(cls: type) -> Manifest:
    """The manifest shipped with ``cls`` (next to the module that defines it). Raises ``ManifestError``."""
    module = sys.modules.get(cls.__module__)
    file = getattr(module, "__file__", None)
    if not file:
        raise ManifestError(f"no manifest: module {cls.__module__!r} has no file to look next to")
    return read_manifest(manifest_path(Path(file)), cls.__name__)


def _typed_config(spec: PluginSpec, config_model: type[BaseModel]) -> BaseModel:
    # A typo in a config key must not pass silently, even when the plugin's model ignores extra fields.
    known = {n for n, f in config_model.model_fields.items()} | {
        f.alias for f in config_model.model_fields.values() if f.alias
    }
    unknown = sorted(set(spec.config) - known)
    if unknown and config_model.model_config.get("extra") != "allow":
        raise PluginLoadError(
            f"plugin {spec.label}: invalid config: {', '.join(unknown)}: unknown field "
            f"(known: {', '.join(sorted(known)) or 'none'})"
        )
    try:
        return config_model.model_validate(spec.config)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'config'}: {e['msg']}" for e in exc.errors())
        raise PluginLoadError(f"plugin {spec.label}: invalid config: {details}") from exc


def _resolve(spec: PluginSpec, bot_dir: Path | None) -> Any:
    if spec.entry_point is not None:
        from importlib.metadata import entry_points  # tens of milliseconds: only for entry-point plugins

        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == spec.entry_point]
        if not found:
            known = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
            raise PluginLoadError(
                f"plugin {spec.entry_point}: no installed distribution has it in the {ENTRY_POINT_GROUP!r} "
                f"entry-point group (installed: {', '.join(known) or 'none'})"
            )
        try:
            return found[0].load()
        except ImportError as exc:
            raise PluginLoadError(_import_message(spec.entry_point, found[0].module, exc)) from exc
    assert spec.module is not None
    assert spec.class_ is not None
    module = _import(spec.module, bot_dir)
    try:
        return getattr(module, spec.class_)
    except AttributeError:
        raise PluginLoadError(f"plugin {spec.label}: module {spec.module!r} has no class {spec.class_!r}") from None


def _import(module_name: str, bot_dir: Path | None) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.split(".", maxsplit=1)[0]
        if exc.name != top or bot_dir is None:
            raise PluginLoadError(_import_message(module_name, module_name, exc)) from exc
        # The plugin's own package is not on the path: look next to the bot, then in its parents.
        for directory in [bot_dir, *list(bot_dir.resolve().parents)[:SEARCH_PARENTS]]:
            if (directory / top / "__init__.py").is_file() or (directory / f"{top}.py").is_file():
                sys.path.insert(0, str(directory))
                importlib.invalidate_caches()
                try:
                    return importlib.import_module(module_name)
                except ImportError as inner:
                    raise PluginLoadError(_import_message(module_name, module_name, inner)) from inner
        searched = [bot_dir.resolve(), *list(bot_dir.resolve().parents)[:SEARCH_PARENTS]]
        looked = ", ".join(f"{d / top}/__init__.py or {d / top}.py" for d in searched[:2])
        raise PluginLoadError(
            f"plugin {module_name}: module {module_name!r} not found: looked on the Python path and beside the bot "
            f"({looked}, and {len(searched) - 2} more parent folders)"
        ) from exc
    except ImportError as exc:
        raise PluginLoadError(_import_message(module_name, module_name, exc)) from exc


def _import_message(label: str, module_name: str, exc: ImportError) -> str:
    missing = getattr(exc, "name", None)
    if (
        isinstance(exc, ModuleNotFoundError)
        and missing
        and module_name != missing
        and not module_name.startswith(missing + ".")
    ):
        return (
            f"plugin {label}: module {module_name!r} needs {missing!r}, which is not installed "
            f"(add it to the layer's requirements)"
        )
    if isinstance(exc, ModuleNotFoundError):
        return f"plugin {label}: module {module_name!r} not found ({exc})"
    return f"plugin {label}: cannot import {module_name!r}: {exc}"


def _construct(cls: Any, config: Any) -> Any:
    return cls(config)
