"""Every first-party plugin ships the whole contract: a manifest that loads, a config model that matches its
schema, a README whose bot YAML example loads, an entry point, and a line in docs/plugins.md's catalogue."""

from __future__ import annotations

import importlib
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from clawline.bot.compiled import Bot
from clawline.cli import main
from clawline.plugins.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p.parent for p in (ROOT / "plugins").glob("*/manifest.yaml"))
ENTRY_POINTS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"][
    "clawline.plugins"
]
ISSUE_14 = {
    "webhook", "faq", "llm", "translate", "sentiment", "moderation", "pii_redact", "business_hours", "handoff",
    "ticket", "csat", "iot_shadow", "lookup", "reminder", "small_talk",
}  # fmt: skip


def test_the_fifteen_plugins_are_there() -> None:
    assert {p.name for p in PLUGINS} >= ISSUE_14


@pytest.mark.parametrize("folder", PLUGINS, ids=[p.name for p in PLUGINS])
def test_manifest_class_config_and_entry_point_agree(folder: Path) -> None:
    manifest = read_manifest(folder / "manifest.yaml")
    assert manifest.module == f"plugins.{folder.name}" and manifest.name == folder.name
    cls = getattr(importlib.import_module(manifest.module), manifest.class_ or "")
    assert cls.name == manifest.name
    assert set(manifest.config.get("properties", {})) == set(cls.Config.model_fields)
    assert ENTRY_POINTS[manifest.name.replace("_", "-")] == f"{manifest.module}:{manifest.class_}"


@pytest.mark.parametrize("folder", PLUGINS, ids=[p.name for p in PLUGINS])
def test_the_readme_bot_example_loads_with_the_plugin(folder: Path, tmp_path: Path) -> None:
    readme = (folder / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL)
    assert blocks, "the README shows a bot YAML example"
    definition = yaml.safe_load(blocks[0])
    (tmp_path / "bot.yaml").write_text(yaml.safe_dump(definition), encoding="utf-8")
    bot = Bot.load(tmp_path)
    assert folder.name in {p.name for p in bot.plugins}


def test_docs_catalogue_lists_every_plugin() -> None:
    docs = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    for folder in PLUGINS:
        assert f"[`{folder.name}`](../plugins/{folder.name}/README.md)" in docs, folder.name


def test_plugins_list_shows_every_plugin_with_its_permissions(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["plugins", "list", "--json"]) == 0
    listed = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert set(listed) >= ISSUE_14
    assert listed["lookup"]["permissions"]["aws"] == [
        {
            "actions": ["dynamodb:GetItem"],
            "resources": ["arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/{config.table}"],
        }
    ]
    assert listed["webhook"]["permissions"]["network"] == ["{config.url}"]
    assert listed["small_talk"]["permissions"] == {"network": [], "aws": [], "secrets": []}
