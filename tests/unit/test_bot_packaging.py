"""The chosen bot reaches the functions through the template: the BotName parameter, its default set in the built
template by `make build BOT=...`, and `make deploy` wrapping `sam deploy --guided` with the samconfig profiles."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from local.template import Template

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))
from set_bot_parameter import set_default  # noqa: E402

#: How `sam build` writes the parameter into .aws-sam/build/template.yaml (long lines folded, 2-space indent).
BUILT = """\
Parameters:
  Stage:
    Type: String
    Default: dev
  BotName:
    Type: String
    Default: default
    AllowedPattern: ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$
    Description: Folder name of the bot the bot layer packages (/opt/bots/NAME). `make
      build BOT=bots/NAME` packages that bot alone.
  NluEmbeddingLayerArn:
    Type: String
    Default: ''
"""


def test_the_functions_find_the_bot_the_parameter_names() -> None:
    template = Template.read(BotName="shop")
    env = template.data["Globals"]["Function"]["Environment"]["Variables"]
    assert template.resolve(env["CLAWLINE_BOT_PATH"]) == "/opt/bots/shop"
    assert Template.read().resolve(env["CLAWLINE_BOT_PATH"]) == "/opt/bots/default"


@pytest.mark.parametrize("name", ["../etc", "my bot", "", "a/b", "-x"])
def test_the_parameter_refuses_names_that_are_not_a_folder(name: str) -> None:
    pattern = Template.read().data["Parameters"]["BotName"]["AllowedPattern"]
    assert re.fullmatch(pattern, name) is None


def test_the_built_template_defaults_to_the_packaged_bot_and_nothing_else_changes() -> None:
    changed = set_default(BUILT, "shop")
    assert changed == BUILT.replace("    Default: default\n", "    Default: shop\n")
    assert "Default: dev" in changed and "Default: ''" in changed


def test_make_deploy_is_sam_deploy_guided_on_the_build_with_a_samconfig_profile() -> None:
    done = subprocess.run(
        ["make", "-n", "-o", ".venv-sam/.installed", "deploy", "CONFIG_ENV=prod"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    command = [line for line in done.stdout.splitlines() if "sam deploy" in line]
    assert command == [
        '.venv-sam/bin/sam deploy --guided --template-file ".aws-sam/build/template.yaml" --config-env prod'
    ]
    profiles = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    assert {"default", "prod"} <= set(profiles) and "deploy" in profiles["prod"]
