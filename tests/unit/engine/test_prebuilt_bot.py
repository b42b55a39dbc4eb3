"""The bot layer's prebuilt definition (``clawline.bot.prebuilt``): what ``clawline package`` writes is what the YAML
says, a cold start loads it without YAML, and anything stale or unreadable falls back to the YAML with its errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clawline.bot import prebuilt
from clawline.bot.compiled import Bot
from clawline.bot.loader import BotDefinitionError
from clawline.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_BOT = ROOT / "bots" / "default"


@pytest.fixture(scope="module")
def packaged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default bot as the bot layer ships it (``clawline package``, what ``make build`` runs)."""
    out = tmp_path_factory.mktemp("layer") / "default"
    assert cli_main(["package", str(DEFAULT_BOT), "--out", str(out)]) == 0
    return out


@pytest.fixture
def copy(packaged: Path, tmp_path: Path) -> Path:
    target = tmp_path / "default"
    shutil.copytree(packaged, target)
    return target


def test_the_package_holds_a_fresh_prebuilt_definition_equal_to_the_yaml(packaged: Path) -> None:
    assert (packaged / prebuilt.PREBUILT_FILE).is_file()
    loaded = prebuilt.read(packaged)
    assert loaded is not None
    assert loaded.definition == Bot.load(DEFAULT_BOT).definition
    assert loaded.manifests  # the sample plugin's manifest, validated by the build
    bot = prebuilt.load_bot(packaged)
    assert [p.name for p in bot.plugins] == ["sample"]
    assert len(bot.rules.ordered) == len(loaded.definition.rules)


def test_a_cold_start_from_the_package_never_imports_yaml_and_answers_like_the_yaml(packaged: Path) -> None:
    probe = """
import json, sys
from clawline.bot.prebuilt import load_bot
from clawline.engine import Engine
from clawline.event_loop import run
from clawline.messages import Channel, InboundMessage
from clawline.store.memory import InMemoryConversationStore
engine = Engine(load_bot(sys.argv[1]), InMemoryConversationStore())
message = InboundMessage(message_id="m1", channel=Channel.MQTT, conversation_id="c1", sender="t1", text="ping")
reply = run(engine.handle(message), lambda: None)
checks = any(m in sys.modules for m in ("clawline.bot.references", "difflib"))
authoring = [m for m in ("clawline.bot.loader", "clawline.rules.analysis", "cel.cel") if m in sys.modules]
print(json.dumps({"yaml": "yaml" in sys.modules, "checks": checks, "authoring": authoring, "texts": reply.texts}))
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "engine"), str(ROOT)])}
    results = []
    for bot in (packaged, DEFAULT_BOT):
        done = subprocess.run(
            [sys.executable, "-c", probe, str(bot)], env=env, capture_output=True, text=True, check=False, timeout=120
        )
        assert done.returncode == 0, done.stderr[-3000:]
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    from_package, from_yaml = results
    # The prebuilt definition passed the reference checks when it was written: a cold start does not run them again.
    # It carries what compiling its conditions found, so neither the YAML loader nor the conditions' analysis is
    # imported, and "ping" (answered by the rule's Python guards) never loads CEL: programs compile on first use.
    assert from_package == {"yaml": False, "checks": False, "authoring": [], "texts": ["pong"]}
    authoring = ["clawline.bot.loader", "clawline.rules.analysis", "cel.cel"]
    # No prebuilt file here: YAML, checked, every condition compiled.
    assert from_yaml == {"yaml": True, "checks": True, "authoring": authoring, "texts": ["pong"]}


def test_a_prebuilt_bot_is_built_like_a_checked_one(packaged: Path) -> None:
    loaded = prebuilt.read(packaged)
    assert loaded is not None
    checked = Bot.build(loaded.definition, loaded.source, directory=packaged)  # every check, as the build ran them
    fast = prebuilt.load_bot(packaged)
    assert fast.templates.keys() == checked.templates.keys()
    assert fast.responses == checked.responses
    assert [r.rule.name for r in fast.rules.ordered] == [r.rule.name for r in checked.rules.ordered]
    # Each rule's guards, variables and CEL source as compiling its condition found them.
    assert [r.analysis for r in fast.rules.ordered] == [r.analysis for r in checked.rules.ordered]
    assert fast.conditions._programs.keys() == checked.conditions._programs.keys()
    assert [p.name for p in fast.plugins] == [p.name for p in checked.plugins]


def test_the_prebuilt_header_names_the_checking_code_it_relies_on(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A new engine layer whose checks differ (compiled.py, references.py) must not trust an older build's file.
    assert prebuilt.read(copy) is not None
    source = Path(prebuilt.__file__).parent / "references.py"
    read_bytes = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: read_bytes(p) + (b"# changed" if p == source else b""))
    assert prebuilt.read(copy) is None


def test_a_bot_edited_after_the_build_is_loaded_from_its_yaml(copy: Path) -> None:
    responses = copy / "responses.yaml"
    responses.write_text(responses.read_text(encoding="utf-8").replace('"pong"', '"pong!"'), encoding="utf-8")
    assert prebuilt.read(copy) is None
    assert '"pong!"' in prebuilt.load_bot(copy).definition.model_dump_json()


def test_a_broken_edit_after_the_build_is_reported_with_file_and_line_as_ever(copy: Path) -> None:
    (copy / "rules.yaml").write_text("rules:\n  - name: x\n    when: 'true'\n    then: [{reply: nowhere}]\n")
    with pytest.raises(BotDefinitionError) as raised:
        prebuilt.load_bot(copy)
    assert "rules.yaml:4" in str(raised.value) and "nowhere" in str(raised.value)


def test_a_new_yaml_file_after_the_build_makes_the_prebuilt_stale(copy: Path) -> None:
    (copy / "extra.yaml").write_text("intents: {}\n")
    assert prebuilt.read(copy) is None


@pytest.mark.parametrize("content", [b"", b"not a pickle", b"\x80\x05K\x01."])
def test_an_unreadable_or_foreign_prebuilt_file_falls_back_to_the_yaml(copy: Path, content: bytes) -> None:
    (copy / prebuilt.PREBUILT_FILE).write_bytes(content)
    assert prebuilt.read(copy) is None
    assert prebuilt.load_bot(copy).definition == Bot.load(DEFAULT_BOT).definition


def test_a_prebuilt_file_from_other_model_code_is_not_used(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert prebuilt.read(copy) is not None
    monkeypatch.setattr(prebuilt, "code_digest", lambda: "another engine layer")
    assert prebuilt.read(copy) is None


def test_a_plugin_manifest_changed_after_the_build_is_read_and_checked_again(
    copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bot's own plugin package, beside it, with a manifest that no longer matches the class's hooks.
    plugins = tmp_path / "pkgs" / "plugins_copy" / "sample"
    shutil.copytree(ROOT / "plugins" / "sample", plugins, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    (plugins.parent / "__init__.py").write_text("")
    source = (plugins / "__init__.py").read_text(encoding="utf-8").replace("plugins.sample", "plugins_copy.sample")
    (plugins / "__init__.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    bot_yaml = copy / "bot.yaml"
    bot_yaml.write_text(bot_yaml.read_text(encoding="utf-8").replace('"plugins.sample"', '"plugins_copy.sample"'))
    prebuilt.write(copy)
    assert prebuilt.read(copy) is not None
    manifest = plugins / "manifest.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace("[action]", "[action, after_reply]"))
    with pytest.raises(BotDefinitionError, match="declares hooks"):
        prebuilt.load_bot(copy)
    for name in [m for m in sys.modules if m.startswith("plugins_copy")]:
        del sys.modules[name]
