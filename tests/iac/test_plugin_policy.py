"""The deployed policy of the message functions is exactly the union of what the bot's enabled plugins declare.

The template is translated by the SAM transform after ``clawline plugins policy --apply`` (what ``make build`` runs
on ``.aws-sam/build/template.yaml``), and compared with the untouched template's translation: the only difference
is the plugins' statements, in the three message functions' roles, and each is a manifest's declaration with the
bot's config filled in.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from clawline.cli import main
from tests.helpers.plugins import manifest, write_manifest
from tests.iac.conftest import TEMPLATE, translate

pytestmark = pytest.mark.iac

MESSAGE_ROLES = ("HttpFunctionRole", "WebSocketFunctionRole", "MqttFunctionRole")
TABLE_ARN = "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/{config.table}"
TOPIC_ARN = "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:{config.topic}"
PLUGIN_CODE = """
from clawline.plugins.base import BasePlugin


class Orders(BasePlugin):
    name = "orders"

    async def action(self, ctx, params):
        return None


class Alerts(BasePlugin):
    name = "alerts"

    async def action(self, ctx, params):
        return None


class Unused(BasePlugin):
    name = "unused"

    async def action(self, ctx, params):
        return None
"""
MANIFESTS = [
    manifest(
        "Orders",
        "orders",
        ["action"],
        config={"table": {"type": "string"}},
        permissions={"aws": [{"actions": ["dynamodb:GetItem", "dynamodb:Query"], "resources": [TABLE_ARN]}]},
    ),
    manifest(
        "Alerts",
        "alerts",
        ["action"],
        config={"topic": {"type": "string"}, "secret": {"type": "string"}},
        permissions={"aws": [{"actions": ["sns:Publish"], "resources": [TOPIC_ARN]}], "secrets": ["{config.secret}"]},
    ),
    manifest(
        "Unused",
        "unused",
        ["action"],
        permissions={"aws": [{"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::never/*"]}]},
    ),
]
BOT = """
name: policybot
responses:
  fallback: ["Sorry?"]
plugins:
  - {module: "iacplugins", class: "Orders", config: {table: orders-prod}}
  - {module: "iacplugins", class: "Alerts", config: {topic: ops-alerts, secret: alerts/webhook}}
"""


def role_statements(cfn: dict[str, Any], role: str) -> list[dict[str, Any]]:
    found = []
    for policy in cfn["Resources"][role]["Properties"].get("Policies", []):
        # A conditional policy (Fn::If) counts with both branches.
        branches = policy["Fn::If"][1:] if "Fn::If" in policy else [policy]
        for branch in branches:
            if isinstance(branch, dict) and "PolicyDocument" in branch:
                found.extend(branch["PolicyDocument"]["Statement"])
    return found


def declared(statement: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
    return tuple(sorted(actions)), tuple(sorted(r["Fn::Sub"] if isinstance(r, dict) else r for r in resources))


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("policy")
    package = root / "pkgs" / "iacplugins"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN_CODE), encoding="utf-8")
    write_manifest(package / "__init__.py", *MANIFESTS)
    bot = root / "bot"
    bot.mkdir()
    (bot / "bot.yaml").write_text(textwrap.dedent(BOT), encoding="utf-8")
    template = root / "template.yaml"
    shutil.copy(TEMPLATE, template)
    import sys

    sys.path.insert(0, str(root / "pkgs"))
    try:
        assert main(["plugins", "policy", "--bot", str(bot), "--apply", str(template)]) == 0
        # Applying twice replaces, never duplicates (make build may run again on the same output).
        assert main(["plugins", "policy", "--bot", str(bot), "--apply", str(template)]) == 0
    finally:
        sys.path.remove(str(root / "pkgs"))
        sys.modules.pop("iacplugins", None)
    return translate(template)


def test_the_message_roles_get_exactly_the_enabled_plugins_declarations(applied, cfn):
    expected = {
        (("dynamodb:GetItem", "dynamodb:Query"), (TABLE_ARN.replace("{config.table}", "orders-prod"),)),
        (("sns:Publish",), (TOPIC_ARN.replace("{config.topic}", "ops-alerts"),)),
        (
            ("secretsmanager:GetSecretValue",),
            ("arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:alerts/webhook-??????",),
        ),
    }
    for role in MESSAGE_ROLES:
        before = role_statements(cfn, role)
        after = role_statements(applied, role)
        added = [s for s in after if s not in before]
        assert [s for s in before if s not in after] == [], role
        assert {declared(s) for s in added} == expected, role
        assert len(added) == len(expected), role
        assert all(s["Effect"] == "Allow" and s["Sid"].startswith("ClawlinePlugin") for s in added)


def test_nothing_else_in_the_template_changes(applied, cfn):
    for name, resource in cfn["Resources"].items():
        if name not in MESSAGE_ROLES:
            assert applied["Resources"][name] == resource, name
    assert role_statements(applied, "AuthorizerFunctionRole") == role_statements(cfn, "AuthorizerFunctionRole")


def test_a_bot_without_plugin_permissions_adds_no_statement(tmp_path):
    template = tmp_path / "template.yaml"
    shutil.copy(TEMPLATE, template)
    assert main(["plugins", "policy", "--bot", "bots/default", "--apply", str(template)]) == 0
    data = yaml.safe_load(template.read_text(encoding="utf-8"))
    for function in ("HttpFunction", "WebSocketFunction", "MqttFunction"):
        policies = data["Resources"][function]["Properties"]["Policies"]
        assert not any("ClawlinePlugin" in str(p) for p in policies)


def test_the_template_file_stays_a_template_sam_accepts(applied):
    assert Path(TEMPLATE).is_file()
    assert "HttpFunction" in applied["Resources"]
