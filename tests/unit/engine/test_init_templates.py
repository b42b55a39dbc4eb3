"""`clawline init`: every template is a complete bot (stories pass, a trained artifact that matches, a README)."""

from __future__ import annotations

import pytest

from clawline.bot.loader import load_definition
from clawline.cli import main as clawline
from clawline.cli.init import templates
from clawline.engine import nlu_inputs
from clawline.nlu.backend import build_backend

TEMPLATES = sorted(templates())


def test_at_least_six_templates_are_listed_with_a_description(capsys):
    assert clawline(["init", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 6
    listed = {line.split()[0] for line in lines}
    assert {"faq", "support", "booking", "order-status", "iot-device", "pizzeria"} <= listed
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines)  # every template says what it is


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_bot_made_from_each_template_passes_its_stories(template, tmp_path, capsys):
    target = tmp_path / f"my-{template}"
    assert clawline(["init", str(target), "--template", template]) == 0
    assert f"created bot 'my_{template.replace('-', '_')}'" in capsys.readouterr().out
    assert (target / "README.md").read_text(encoding="utf-8").count("## What to change") == 1
    assert clawline(["test", str(target)]) == 0
    out = capsys.readouterr().out
    assert " 0 failed" in out
    assert int(out.strip().splitlines()[-1].split()[0]) >= 3  # at least three stories pass


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_ships_a_trained_artifact_that_matches_its_examples(template):
    source = templates()[template]
    definition, _ = load_definition(source)
    inputs = nlu_inputs(definition)
    engine = build_backend(**inputs, artifact_path=source / "model" / "nlu.npz")
    assert engine.source == "artifact", f"{source}/model/nlu.npz is stale: run clawline train --bot {source}"


def test_init_refuses_a_folder_that_is_not_empty(tmp_path, capsys):
    (tmp_path / "bot.yaml").write_text("name: mine\n", encoding="utf-8")
    assert clawline(["init", str(tmp_path), "--template", "faq"]) == 1
    assert "already exists and is not empty" in capsys.readouterr().err
    assert (tmp_path / "bot.yaml").read_text(encoding="utf-8") == "name: mine\n"


def test_an_unknown_template_lists_the_known_ones(tmp_path, capsys):
    assert clawline(["init", str(tmp_path / "x"), "--template", "pizza"]) == 2
    err = capsys.readouterr().err
    assert "no template 'pizza'" in err
    assert "pizzeria" in err
    assert not (tmp_path / "x").exists()


def test_a_template_outside_the_repository_brings_the_repository_plugins_it_uses(tmp_path):
    target = tmp_path / "shop"
    assert clawline(["init", str(target), "--template", "pizzeria"]) == 0
    assert (target / "plugins" / "sample" / "plugin.py").is_file()
    assert not (target / "plugins" / "sample" / "tests").exists()
    assert "name: shop" in (target / "bot.yaml").read_text(encoding="utf-8")
