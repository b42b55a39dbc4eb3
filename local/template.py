"""Reads ``template.yaml`` (CloudFormation short-form tags included) so the local runtime and the tests use
the template's own definitions: table keys, indexes and TTL, function handlers, routes and the IoT rule SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

_TAGS = ("Ref", "Sub", "GetAtt", "If", "Join", "Split", "Select", "Equals", "Not", "And", "Or", "FindInMap",
         "ImportValue", "GetAZs", "Base64", "Cidr", "Condition")


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns ``!Tag value`` into the long form ``{"Fn::Tag": value}`` (``Ref`` stays ``Ref``)."""


def _construct(tag: str) -> Any:
    key = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    return construct


for _tag in _TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a template")
    return data


@dataclass
class Template:
    data: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path = TEMPLATE, **overrides: str) -> Template:
        data = load(path)
        params = {name: str(spec.get("Default", "")) for name, spec in (data.get("Parameters") or {}).items()}
        params.update(overrides)
        return cls(data, params)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.data.get("Resources", {})
        return resources

    def of_type(self, type_name: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res.get("Type") == type_name}

    def resolve(self, value: Any) -> Any:
        """Resolve Ref / Sub against parameters and pseudo parameters; resource refs resolve to their names."""
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(str(arg))
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                resolved = {k: self.resolve(v) for k, v in variables.items()}
                return re.sub(
                    r"\$\{([^}!][^}]*)\}", lambda m: str(resolved.get(m.group(1), self._ref(m.group(1)))), text
                )
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in self.resolve(arg[1]))
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value

    def _ref(self, name: str) -> str:
        pseudo = {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012", "AWS::Partition": "aws",
                  "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "clawline-local"}
        if name in self.parameters:
            return self.parameters[name]
        if name in pseudo:
            return pseudo[name]
        resource = self.resources.get(name)
        if resource is not None:
            props = resource.get("Properties", {})
            for key in ("TableName", "QueueName", "FunctionName", "Name"):
                if key in props:
                    return str(self.resolve(props[key]))
            return name
        raise KeyError(f"template has no parameter or resource named {name}")

    def table_definitions(self) -> dict[str, dict[str, Any]]:
        """``create_table`` arguments for each DynamoDB table, by logical id, plus its TTL attribute."""
        tables: dict[str, dict[str, Any]] = {}
        for logical_id, res in self.of_type("AWS::DynamoDB::Table").items():
            props = self.resolve(res["Properties"])
            spec: dict[str, Any] = {
                "TableName": props["TableName"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            if props.get("GlobalSecondaryIndexes"):
                spec["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            ttl = props.get("TimeToLiveSpecification") or {}
            tables[logical_id] = {"create": spec, "ttl_attribute": ttl.get("AttributeName") if ttl.get("Enabled") else None}
        return tables


def create_tables(dynamodb: Any, template: Template, *, suffix: str = "") -> dict[str, str]:
    """Create every table of the template (names optionally suffixed for isolation); returns logical id -> name."""
    names: dict[str, str] = {}
    for logical_id, table in template.table_definitions().items():
        spec = dict(table["create"])
        spec["TableName"] = spec["TableName"] + suffix
        dynamodb.create_table(**spec)
        if table["ttl_attribute"]:
            dynamodb.update_time_to_live(
                TableName=spec["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table["ttl_attribute"]},
            )
        names[logical_id] = spec["TableName"]
    return names
