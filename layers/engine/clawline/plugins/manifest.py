"""A plugin's manifest: the contract the loader checks and the build turns into IAM.

Every plugin ships a ``manifest.yaml`` next to its module (in its package directory, or ``<module>.manifest.yaml``
beside a single-file module). It says what the plugin is and what it may reach::

    name: lookup
    version: 1.0.0
    description: Looks a record up in a DynamoDB table by a slot value.
    class: LookupPlugin              # which class this manifest describes (a file may list several: `plugins:`)
    hooks: [action]
    timeout_ms: 800                  # the time budget of one call (the bot's `timeout_ms:` may only lower it)
    config:                          # JSON Schema of the bot's `config:` (unknown keys are refused)
      type: object
      required: [table]
      properties:
        table: {type: string}
    permissions:
      network: []                    # hosts its HTTP client may reach: "api.example.com", "host:8443", "{config.url}"
      aws:
        - actions: [dynamodb:GetItem]
          resources: ["arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/{config.table}"]
      secrets: []                    # Secrets Manager secret names (may use {config.x})

``{config.x}`` is replaced by the bot's configuration value at load time; ``${AWS::...}`` pseudo parameters are
left for CloudFormation (``clawline plugins policy`` writes them as ``Fn::Sub``). Nothing else is a wildcard
unless the manifest writes one.
"""

# No `from __future__ import annotations`: pydantic would evaluate each field's annotation string when it creates
# these classes at import (clawline.bot.models does the same).

import hashlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from clawline.plugins import config_schema

MANIFEST_FILE = "manifest.yaml"
Hook = Literal["before_nlu", "before_rules", "action", "before_send", "after_reply", "summarize", "process"]
_PLACEHOLDER = re.compile(r"\{config\.([A-Za-z_][A-Za-z0-9_]*)\}")
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*]+$")


class ManifestError(ValueError):
    """The manifest is missing, unreadable or breaks its schema (the message names the file and the field)."""


class AwsPermission(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    actions: list[str] = Field(min_length=1)
    resources: list[str] = Field(min_length=1)

    @field_validator("actions")
    @classmethod
    def _actions(cls, value: list[str]) -> list[str]:
        for action in value:
            if not _ACTION.match(action):
                raise ValueError(f"{action!r} is not an IAM action (service:Operation)")
            if action.split(":", 1)[1] == "*":
                raise ValueError(f"{action!r}: a plugin declares the operations it calls, not `service:*`")
        return value


class Permissions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    #: Hosts (``name`` or ``name:port``, or ``{config.key}`` holding a URL or a host) its HTTP client may reach.
    network: list[str] = []
    aws: list[AwsPermission] = []
    #: Secrets Manager secret names it reads.
    secrets: list[str] = []


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    #: What rules call (``plugin: name``): a bot name (letters, digits, underscores).
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    version: str = Field(pattern=r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")
    description: str = Field(min_length=1)
    module: str | None = None
    class_: str | None = Field(default=None, alias="class")
    hooks: list[Hook] = Field(min_length=1)
    timeout_ms: int | None = Field(default=None, ge=1, le=25_000)
    config: dict[str, Any] = {"type": "object", "properties": {}}
    permissions: Permissions = Field(default_factory=Permissions)
    #: Where it was read from (set by ``read_manifest``).
    path: str | None = Field(default=None, exclude=True)

    @field_validator("config")
    @classmethod
    def _config(cls, value: dict[str, Any]) -> dict[str, Any]:
        config_schema.check_schema(value)
        if value.get("type", "object") != "object":
            raise ValueError("the config schema describes a mapping (type: object)")
        return value


# A named tuple, not a dataclass: its class is built at every cold start (docs/architecture.md, "Records").
class ResolvedPermissions(NamedTuple):
    """A manifest's permissions with ``{config.x}`` replaced by the bot's values."""

    #: (host, port or None for any port) pairs the plugin's HTTP client may connect to.
    hosts: frozenset[tuple[str, int | None]]
    aws: tuple[AwsPermission, ...]
    secrets: tuple[str, ...]

    def allows_host(self, host: str, port: int | None) -> bool:
        host = host.lower().rstrip(".")
        return (host, None) in self.hosts or (host, port) in self.hosts

    def allows_action(self, action: str) -> bool:
        return any(action in p.actions for p in self.aws)

    def secret_allowed(self, name: str) -> bool:
        return name in self.secrets


def manifest_path(module_file: Path) -> Path:
    """Where the manifest of a plugin defined in ``module_file`` lives."""
    if module_file.name == "__init__.py" or (module_file.parent / MANIFEST_FILE).is_file():
        return module_file.parent / MANIFEST_FILE
    return module_file.with_name(f"{module_file.stem}.{MANIFEST_FILE}")


#: Manifests already validated, by (sha256 of the file's bytes, class name): every one this process read, and the
#: ones the build read (``clawline.bot.prebuilt``), so a cold start whose manifest files are byte for byte the build's
#: takes them from here instead of parsing YAML.
_validated: dict[tuple[str, str | None], Manifest] = {}


def validated_manifests() -> dict[tuple[str, str | None], Manifest]:
    """The manifests this process validated, by (digest of the file's bytes, class name)."""
    return dict(_validated)


def remember_validated(manifests: Mapping[tuple[str, str | None], Manifest]) -> None:
    """Take these as what ``read_manifest`` returns for files with these digests (see ``_validated``)."""
    _validated.update(manifests)


def read_manifest(path: Path, class_name: str | None = None) -> Manifest:
    """The manifest in ``path`` (for ``class_name`` when the file lists several under ``plugins:``)."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"no manifest: {path} is missing (every plugin declares what it needs)") from None
    except OSError as exc:
        raise ManifestError(f"manifest {path}: cannot read it: {exc}") from exc
    key = (hashlib.sha256(content).hexdigest(), class_name)
    known = _validated.get(key)
    if known is not None:
        return known.model_copy(update={"path": str(path)})
    import yaml

    try:
        data = yaml.safe_load(content.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ManifestError(f"manifest {path}: cannot read it: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("plugins"), list) and set(data) == {"plugins"}:
        entries = [e for e in data["plugins"] if isinstance(e, dict) and e.get("class") == class_name]
        if len(entries) != 1:
            listed = ", ".join(str(e.get("class")) for e in data["plugins"] if isinstance(e, dict))
            raise ManifestError(f"manifest {path}: no entry for class {class_name!r} under `plugins:` ({listed})")
        data = entries[0]
    if not isinstance(data, dict):
        raise ManifestError(f"manifest {path}: expected a mapping")
    try:
        manifest = Manifest.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'manifest'}: {e['msg']}" for e in exc.errors())
        raise ManifestError(f"manifest {path}: {details}") from exc
    if class_name is not None and manifest.class_ is not None and manifest.class_ != class_name:
        raise ManifestError(f"manifest {path}: describes class {manifest.class_!r}, not {class_name!r}")
    _validated[key] = manifest
    return manifest.model_copy(update={"path": str(path)})


def resolve(manifest: Manifest, config: Mapping[str, Any]) -> ResolvedPermissions:
    """Fill ``{config.x}`` placeholders from the (validated, defaulted) config. Raises ``ManifestError``."""
    hosts: set[tuple[str, int | None]] = set()
    for entry in manifest.permissions.network:
        for value in _expand(entry, config, manifest):
            hosts.add(_host(value, manifest))
    aws = []
    for permission in manifest.permissions.aws:
        resources = [r for resource in permission.resources for r in _expand(resource, config, manifest)]
        if resources:  # every resource came from an unset option: that feature is off, it needs nothing
            aws.append(AwsPermission(actions=permission.actions, resources=resources))
    secrets = tuple(s for entry in manifest.permissions.secrets for s in _expand(entry, config, manifest) if s)
    return ResolvedPermissions(frozenset(hosts), tuple(aws), secrets)


def _expand(template: str, config: Mapping[str, Any], manifest: Manifest) -> list[str]:
    """``template`` with each ``{config.x}`` replaced; a list value gives one string per item; an unset value
    drops the entry (an optional feature that is off needs no permission)."""
    keys = _PLACEHOLDER.findall(template)
    if not keys:
        return [template]
    results = [template]
    for key in keys:
        value = config.get(key)
        if value is None or value in ("", []):
            return []
        values: Sequence[Any] = value if isinstance(value, list) else [value]
        results = [r.replace(f"{{config.{key}}}", str(v)) for r in results for v in values]
    for result in results:
        if "*" in result and "*" not in template:
            raise ManifestError(f"manifest {manifest.path}: a config value may not add a wildcard ({result!r})")
    return results


def _host(value: str, manifest: Manifest) -> tuple[str, int | None]:
    parsed = urlsplit(value if "//" in value else f"//{value}")
    if not parsed.hostname:
        raise ManifestError(f"manifest {manifest.path}: permissions.network: {value!r} is not a host or URL")
    try:
        port = parsed.port
    except ValueError:
        raise ManifestError(f"manifest {manifest.path}: permissions.network: bad port in {value!r}") from None
    if port is None and parsed.scheme in ("http", "https"):
        port = 443 if parsed.scheme == "https" else 80
    return parsed.hostname.lower().rstrip("."), port
