"""Manifests for plugins that tests write on the fly (every plugin ships one, or it does not load)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from clawline.plugins.manifest import manifest_path


def manifest(cls: str, name: str, hooks: list[str], **fields: Any) -> dict[str, Any]:
    """One manifest entry: ``config`` is the properties of the config schema, ``permissions`` as in a manifest."""
    entry: dict[str, Any] = {
        "name": name,
        "version": "1.0.0",
        "description": f"test plugin {name}",
        "class": cls,
        "hooks": hooks,
    }
    if "config" in fields:
        entry["config"] = {"type": "object", "properties": fields.pop("config")}
    entry.update(fields)
    return entry


def write_manifest(module_file: Path, *entries: dict[str, Any]) -> Path:
    """Write the manifest of the plugins defined in ``module_file`` (a package's ``__init__.py`` or a module)."""
    path = manifest_path(module_file)
    path.write_text(yaml.safe_dump({"plugins": list(entries)}, sort_keys=False), encoding="utf-8")
    return path
