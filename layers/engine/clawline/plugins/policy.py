"""Least privilege from the manifests: the IAM statements a bot's plugins declare, and the build step that puts
exactly those into the message functions' roles.

``statements(bot.plugins)`` gives one ``Allow`` statement per ``permissions.aws`` entry of every enabled plugin
(its actions on its resources, ``{config.x}`` filled in from the bot) and one ``secretsmanager:GetSecretValue``
per declared secret; nothing else, and no wildcard a manifest did not write. ``${AWS::Partition}``,
``${AWS::Region}`` and ``${AWS::AccountId}`` stay for CloudFormation: ``apply_to_template`` writes them as
``Fn::Sub`` into the ``Policies`` of ``HttpFunction``, ``WebSocketFunction`` and ``MqttFunction``, replacing what
an earlier run wrote (its statements' ``Sid`` start with ``ClawlinePlugin``).

Why the built template and not a parameter: a CloudFormation parameter is a string, and a policy's resources
need ``Fn::Sub`` for the partition, region and account; ``make build`` runs ``clawline plugins policy --bot DIR
--apply .aws-sam/build/template.yaml`` after ``sam build``, and ``sam deploy`` deploys that file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from clawline.plugins.loader import LoadedPlugin

#: The functions that run the engine (and so the plugins). The authorizer runs no plugin.
MESSAGE_FUNCTIONS = ("HttpFunction", "WebSocketFunction", "MqttFunction")
SID_PREFIX = "ClawlinePlugin"
SECRET_ARN = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:%s-??????"  # noqa: S105 - an ARN pattern, not a secret


def statements(plugins: Iterable[LoadedPlugin]) -> list[dict[str, Any]]:
    """The IAM statements the plugins declare, in plugin order (see the module docstring)."""
    result: list[dict[str, Any]] = []
    for plugin in plugins:
        stem = SID_PREFIX + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", plugin.name))
        for i, permission in enumerate(plugin.permissions.aws):
            result.append(
                {
                    "Sid": f"{stem}{i}",
                    "Effect": "Allow",
                    "Action": sorted(set(permission.actions)),
                    "Resource": sorted(set(permission.resources)),
                }
            )
        if plugin.permissions.secrets:
            result.append(
                {
                    "Sid": f"{stem}Secrets",
                    "Effect": "Allow",
                    "Action": ["secretsmanager:GetSecretValue"],
                    "Resource": sorted(SECRET_ARN % name for name in set(plugin.permissions.secrets)),
                }
            )
    return result


def document(plugins: Iterable[LoadedPlugin]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": statements(plugins)}


def for_cloudformation(statement_list: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The statements with every resource that names a pseudo parameter written as ``Fn::Sub``."""
    return [{**s, "Resource": [{"Fn::Sub": r} if "${" in r else r for r in s["Resource"]]} for s in statement_list]


def apply_to_template(template: dict[str, Any], statement_list: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Put the statements into each message function's ``Policies`` (replacing an earlier run's), in place."""
    resources = template.get("Resources") or {}
    missing = [name for name in MESSAGE_FUNCTIONS if name not in resources]
    if missing:
        raise ValueError(f"the template has no {', '.join(missing)}")
    for name in MESSAGE_FUNCTIONS:
        properties = resources[name].setdefault("Properties", {})
        policies = [p for p in properties.get("Policies") or [] if not _ours(p)]
        if statement_list:
            policies.append({"Statement": for_cloudformation(statement_list)})
        properties["Policies"] = policies
    return template


def apply_to_file(path: Path, statement_list: Sequence[dict[str, Any]]) -> None:
    """``apply_to_template`` on a template file (short-form tags are read and written back in long form)."""
    import yaml

    template = _load_template(path)
    apply_to_template(template, statement_list)
    path.write_text(yaml.safe_dump(template, sort_keys=False, width=1000), encoding="utf-8")


def _ours(policy: Any) -> bool:
    found = policy.get("Statement") if isinstance(policy, dict) and len(policy) == 1 else None
    return (
        isinstance(found, list)
        and bool(found)
        and all(isinstance(s, dict) and str(s.get("Sid", "")).startswith(SID_PREFIX) for s in found)
    )


def _load_template(path: Path) -> dict[str, Any]:
    import yaml

    class Loader(yaml.SafeLoader):
        """``!Tag value`` read as the long form ``{"Fn::Tag": value}`` (``!Ref``/``!Condition`` stay short keys)."""

    def construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
        key = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if suffix == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    Loader.add_multi_constructor("!", construct)
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)  # noqa: S506  # nosec B506 - SafeLoader subclass
    if not isinstance(data, dict) or "Resources" not in data:
        raise ValueError(f"{path}: not a CloudFormation template")
    return data
