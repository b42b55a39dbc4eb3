"""Plugins: loading from bot YAML and entry points, time budgets, isolation and concurrency."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path

import pytest

from clawline.bot.compiled import Bot
from clawline.bot.loader import BotDefinitionError
from clawline.engine import Engine
from clawline.observability import metrics
from clawline.store.memory import InMemoryConversationStore
from tests.helpers.plugins import manifest, write_manifest

from .helpers import BASE, FIXED_NOW, ScriptedNlu, make_engine, say, write_bot

PLUGIN_CODE = '''
import asyncio
from pydantic import BaseModel
from clawline.plugins.base import BasePlugin, PluginResult

EVENTS = {}


class Greeter:
    name = "greeter"

    class Config(BaseModel):
        greeting: str = "Hi"

    def __init__(self, config):
        self.config = config
        self.ready = False

    async def setup(self):
        self.ready = True

    async def action(self, ctx, params):
        return PluginResult(
            replies=[f"{self.config.greeting} {ctx.message.sender} ({'ready' if self.ready else 'cold'})"],
            data={"greeted": True},
            slots={"mood": params.get("mood", "happy")},
        )


class Broken(BasePlugin):
    name = "broken"

    async def action(self, ctx, params):
        raise RuntimeError("boom")


class Slow(BasePlugin):
    name = "slow"

    async def action(self, ctx, params):
        await asyncio.sleep(5)
        return PluginResult()


class Waiter(BasePlugin):
    """Finishes only when Setter ran: proves the two run concurrently (sequentially it would time out)."""

    name = "waiter"

    async def action(self, ctx, params):
        event = EVENTS.setdefault(ctx.message.message_id, asyncio.Event())
        await event.wait()
        return PluginResult(data={"waited": True})


class Setter(BasePlugin):
    name = "setter"

    async def action(self, ctx, params):
        EVENTS.setdefault(ctx.message.message_id, asyncio.Event()).set()
        return PluginResult(data={"set": True})


class Moderator:
    name = "moderator"

    class Config(BaseModel):
        banned: list[str] = []

    def __init__(self, config):
        self.config = config

    async def setup(self):
        pass

    async def before_nlu(self, ctx):
        if any(word in ctx.message.text for word in self.config.banned):
            return PluginResult(reject="That language is not allowed here.")
        return PluginResult(data={"clean": True})


class FailsSetup(BasePlugin):
    name = "fails_setup"

    async def setup(self):
        raise ConnectionError("no network")

    async def action(self, ctx, params):
        return PluginResult(replies=["should not happen"])


SEEN = []


class Auditor:
    name = "auditor"

    class Config(BaseModel):
        fail: bool = False

    def __init__(self, config):
        self.config = config

    async def setup(self):
        pass

    async def before_nlu(self, ctx):
        if self.config.fail:
            raise ValueError("before")
        return None

    async def after_reply(self, ctx, reply):
        if self.config.fail:
            raise ValueError("after")
        SEEN.append((ctx.message.text, reply.texts))


class SyncHook(BasePlugin):
    name = "sync_hook"

    def action(self, ctx, params):
        return PluginResult()
'''

MANIFESTS = [
    manifest("Greeter", "greeter", ["action"], config={"greeting": {"type": "string"}}),
    manifest("Broken", "broken", ["action"]),
    manifest("Slow", "slow", ["action"]),
    manifest("Waiter", "waiter", ["action"]),
    manifest("Setter", "setter", ["action"]),
    manifest(
        "Moderator",
        "moderator",
        ["before_nlu"],
        config={"banned": {"type": "array", "items": {"type": "string"}}},
    ),
    manifest("FailsSetup", "fails_setup", ["action"]),
    manifest("Auditor", "auditor", ["before_nlu", "after_reply"], config={"fail": {"type": "boolean"}}),
    manifest("SyncHook", "sync_hook", ["action"]),
]


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """A plugin package on the path, named uniquely so tests do not share module state."""
    name = f"testplugins_{tmp_path.name.replace('-', '_')}"
    package = tmp_path / "pkgs" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN_CODE), encoding="utf-8")
    write_manifest(package / "__init__.py", *MANIFESTS)
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    yield name
    sys.modules.pop(name, None)


def bot_with(module: str, plugins: list[str], rules: str, extra: str = "") -> str:
    specs = "".join(f'  - {{module: "{module}", class: "{cls}"{cfg}}}\n' for cls, cfg in map(_split, plugins))
    return (
        BASE
        + extra
        + 'slots:\n  mood: {type: any}\nresponses:\n  failed: ["Plugin trouble."]\n'
        + (f"plugins:\n{specs}rules:\n{textwrap.dedent(rules)}")
    )


def _split(spec: str) -> tuple[str, str]:
    cls, _, cfg = spec.partition("|")
    return cls, f", config: {cfg}" if cfg else ""


def test_plugin_from_bot_yaml_is_set_up_once_and_its_result_applied(tmp_path, plugin_module):
    rules = """
  - name: greet
    when: text == "hi"
    then: [{plugin: {name: greeter, params: {mood: calm}}}]
"""
    engine = make_engine(tmp_path / "bot", bot_with(plugin_module, ["Greeter|{greeting: Hello}"], rules))
    reply = say(engine, "hi", sender="ann")
    assert reply.texts == ["Hello ann (ready)"]
    assert reply.slots == {"mood": "calm"}


def test_plugin_data_is_visible_to_later_rules(tmp_path, plugin_module):
    rules = """
  - name: greet
    when: text == "hi"
    then: [{plugin: greeter}]
    stop: false
  - name: after
    when: has(plugins.greeter) && plugins.greeter.greeted
    then: [{reply: hello}]
"""
    reply = say(make_engine(tmp_path / "bot", bot_with(plugin_module, ["Greeter"], rules)), "hi", sender="ann")
    assert reply.texts == ["Hi ann (ready)", "Hello!"]


@pytest.mark.parametrize("plugin", ["Broken", "Slow"])
def test_a_failing_or_slow_plugin_gets_the_plugin_error_reply_and_the_turn_is_kept(tmp_path, plugin_module, plugin):
    rules = f"""
  - name: call
    when: "true"
    then: [{{plugin: {plugin.lower()}}}, {{reply: hello}}]
"""
    text = bot_with(plugin_module, [plugin], rules).replace(
        "settings: {mode: hybrid}", "settings: {mode: hybrid, plugin_error: failed, plugin_timeout_ms: 50}"
    )
    store = InMemoryConversationStore()
    engine = make_engine(tmp_path / "bot", text, store=store)
    reply = say(engine, "hi")
    assert reply.texts == ["Plugin trouble."]
    assert reply.trace == ["call", f"plugin_error:{plugin.lower()}"]
    assert [t.bot_texts for t in store.list_turns("c1", "u1").turns] == [["Plugin trouble."]]


def test_independent_plugins_of_one_stage_run_concurrently(tmp_path, plugin_module):
    rules = """
  - name: both
    when: "true"
    then: [{plugin: waiter}, {plugin: setter}, {reply: hello}]
"""
    text = bot_with(plugin_module, ["Waiter", "Setter"], rules).replace(
        "settings: {mode: hybrid}", "settings: {mode: hybrid, plugin_timeout_ms: 2000}"
    )
    reply = say(make_engine(tmp_path / "bot", text), "go")
    assert reply.texts == ["Hello!"]
    assert "plugin_error:waiter" not in reply.trace


def test_before_nlu_plugin_can_reject_a_message(tmp_path, plugin_module):
    rules = """
  - name: hello
    when: "true"
    then: [{reply: hello}]
"""
    engine = make_engine(tmp_path / "bot", bot_with(plugin_module, ["Moderator|{banned: [darn]}"], rules))
    rejected = say(engine, "darn it")
    assert rejected.texts == ["That language is not allowed here."]
    assert [a.type for a in rejected.actions] == ["reject"]
    assert say(engine, "hello there").texts == ["Hello!"]


def test_a_plugin_whose_setup_failed_is_isolated(tmp_path, plugin_module):
    rules = """
  - name: call
    when: "true"
    then: [{plugin: fails_setup}]
"""
    engine = make_engine(tmp_path / "bot", bot_with(plugin_module, ["FailsSetup"], rules))
    assert say(engine, "hi").texts == ["Sorry?"]


def test_a_sync_hook_is_refused_at_load(tmp_path, plugin_module):
    with pytest.raises(BotDefinitionError, match="hook `action` must be `async def`"):
        Bot.load(write_bot(tmp_path / "bot", bot_with(plugin_module, ["SyncHook"], "  - {name: x, then: []}\n")))


def test_invalid_plugin_config_is_refused_at_load(tmp_path, plugin_module):
    text = bot_with(plugin_module, ["Greeter|{greting: Hello}"], "  - {name: x, then: []}\n")
    with pytest.raises(BotDefinitionError, match=r"plugins\[0\]: plugin .*Greeter: invalid config: greting"):
        Bot.load(write_bot(tmp_path / "bot", text))


def test_a_plugin_with_a_missing_dependency_names_the_dependency(tmp_path, monkeypatch):
    package = tmp_path / "pkgs" / "needs_dep_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("import surely_not_installed_xyz\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "pkgs"))
    text = BASE + 'plugins:\n  - {module: "needs_dep_plugin", class: "P"}\n'
    with pytest.raises(BotDefinitionError) as info:
        Bot.load(write_bot(tmp_path / "bot", text))
    assert "needs 'surely_not_installed_xyz', which is not installed" in str(info.value)


def test_a_missing_class_is_named(tmp_path, plugin_module):
    with pytest.raises(BotDefinitionError, match=f"module '{plugin_module}' has no class 'Nope'"):
        Bot.load(write_bot(tmp_path / "bot", bot_with(plugin_module, ["Nope"], "  - {name: x, then: []}\n")))


def test_plugin_package_next_to_the_bot_is_found_without_being_on_the_path(tmp_path):
    project = tmp_path / "project"
    package = project / "localplugins_nextto"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(PLUGIN_CODE), encoding="utf-8")
    write_manifest(package / "__init__.py", *MANIFESTS)
    text = BASE + 'plugins:\n  - {module: "localplugins_nextto", class: "Greeter"}\n'
    try:
        bot = Bot.load(write_bot(project / "bots" / "demo", text))
        assert [p.name for p in bot.plugins] == ["greeter"]
    finally:
        sys.modules.pop("localplugins_nextto", None)
        sys.path[:] = [p for p in sys.path if p != str(project)]


def test_entry_point_plugins_are_discovered(tmp_path, plugin_module, monkeypatch):
    dist = tmp_path / "site" / "greeter_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: greeter-plugin\nVersion: 1.0\n", encoding="utf-8")
    (dist / "entry_points.txt").write_text(f"[clawline.plugins]\nhello = {plugin_module}:Greeter\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    text = BASE + "plugins:\n  - {entry_point: hello, config: {greeting: Hey}}\nrules:\n"
    text += "  - {name: hi, when: 'true', then: [{plugin: greeter}]}\n"
    engine = Engine(Bot.load(write_bot(tmp_path / "bot", text)), InMemoryConversationStore(), clock=lambda: FIXED_NOW)
    asyncio.run(engine.setup())
    assert say(engine, "x", sender="bo").texts == ["Hey bo (ready)"]


def test_an_unknown_entry_point_is_named(tmp_path):
    text = BASE + "plugins:\n  - {entry_point: not_there}\n"
    with pytest.raises(BotDefinitionError, match="plugin not_there: no installed distribution"):
        Bot.load(write_bot(tmp_path / "bot", text))


def test_the_sample_plugin_approves_above_its_threshold_and_rejects_below(tmp_path):
    text = (
        BASE
        + """
intents:
  cancel: {examples: [cancel]}
responses:
  cancelled: [Cancelled.]
plugins:
  - {module: "plugins.sample", class: "SamplePlugin", config: {threshold: 0.8}}
rules:
  - name: cancel
    when: intent == "cancel"
    then: [{plugin: sample}, {reply: cancelled}]
"""
    )
    nlu = ScriptedNlu({"cancel it": ("cancel", 0.95), "cancel maybe": ("cancel", 0.6)})
    engine = make_engine(tmp_path, text, nlu=nlu)
    assert say(engine, "cancel it").texts == ["Cancelled."]
    rejected = say(engine, "cancel maybe")
    assert [a.type for a in rejected.actions] == ["reject"]
    assert rejected.texts == [rejected.actions[0].params["reason"]]


@pytest.mark.parametrize("fail", [False, True])
def test_after_reply_sees_the_final_reply_and_its_failure_changes_nothing(tmp_path, plugin_module, fail):
    import importlib

    rules = """
  - name: hello
    when: "true"
    then: [{reply: hello}]
"""
    text = bot_with(plugin_module, [f"Auditor|{{fail: {str(fail).lower()}}}"], rules)
    engine = make_engine(tmp_path / "bot", text)
    reply = say(engine, "hi there")
    assert reply.texts == ["Hello!"]
    seen = importlib.import_module(plugin_module).SEEN
    assert seen == ([] if fail else [("hi there", ["Hello!"])])


@pytest.mark.parametrize("plugin", ["Broken", "Slow"])
def test_the_reply_lists_rules_considered_and_each_plugin_call_with_its_time_but_never_sends_them(
    tmp_path, plugin_module, plugin
):
    rules = f"""
  - name: pruned
    when: text == "something else"
    then: [{{reply: hello}}]
  - name: never
    when: text.size() > 100
    then: [{{reply: hello}}]
  - name: call
    when: "true"
    then: [{{plugin: greeter}}, {{plugin: {plugin.lower()}}}, {{reply: hello}}]
"""
    text = bot_with(plugin_module, ["Greeter", plugin], rules).replace(
        "settings: {mode: hybrid}", "settings: {mode: hybrid, plugin_error: failed, plugin_timeout_ms: 50}"
    )
    reply = say(make_engine(tmp_path / "bot", text), "hi")
    # The index skips rules that cannot match this text; the ones whose condition was evaluated are listed.
    assert reply.considered == ["never", "call"]
    assert reply.trace == ["call", f"plugin_error:{plugin.lower()}"]
    calls = {c.plugin: c for c in reply.plugin_calls}
    assert calls["greeter"].hook == "action" and calls["greeter"].failure is None
    assert calls[plugin.lower()].failure == ("timeout" if plugin == "Slow" else "error")
    assert calls[plugin.lower()].ms >= (50 if plugin == "Slow" else 0)
    dumped = reply.model_dump(mode="json")
    assert "considered" not in dumped and "plugin_calls" not in dumped


# ----- the seed's plugin API -----------------------------------------------------------------------------------

DOCS_PLUGINS = Path(__file__).resolve().parents[3] / "docs" / "examples" / "plugins"
SEED_BOT = """
name: seedbot
settings: {mode: hybrid, refusal: refused}
intents:
  cancel: {examples: [cancel]}
responses:
  refused: ["I'd rather not act on a guess: please say it again."]
  cancelled: [Cancelled.]
plugins:
  - {module: "seed_sample", class: "SamplePlugin", config: {threshold: 0.8}}
rules:
  - name: cancel
    when: intent == "cancel"
    then: [{reply: cancelled}]
"""


def emitted_metrics(capsys) -> list[str]:
    """Names of the EMF data points written since the last call (one entry per value)."""
    metrics.flush_metrics()
    names: list[str] = []
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            doc = json.loads(line)
            for directive in doc["_aws"]["CloudWatchMetrics"]:
                for metric in directive["Metrics"]:
                    value = doc.get(metric["Name"])
                    names.extend([metric["Name"]] * (len(value) if isinstance(value, list) else 1))
    return names


def test_the_seed_sample_plugin_gates_the_turn_from_the_seed_yaml(tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(DOCS_PLUGINS))
    nlu = ScriptedNlu({"cancel it": ("cancel", 0.95), "cancel maybe": ("cancel", 0.6)})
    engine = make_engine(tmp_path, SEED_BOT, nlu=nlu)
    emitted_metrics(capsys)
    approved = say(engine, "cancel it")
    assert approved.texts == ["Cancelled."]
    assert emitted_metrics(capsys).count("PluginRejections") == 0
    rejected = say(engine, "cancel maybe")
    assert rejected.texts == ["I'd rather not act on a guess: please say it again."]
    assert [a.type for a in rejected.actions] == ["reject"]
    assert "cancel" not in rejected.trace
    assert emitted_metrics(capsys).count("PluginRejections") == 1


def test_a_seed_plugin_rejection_reason_is_the_reply(tmp_path, plugin_module):
    package = tmp_path / "pkgs" / plugin_module / "__init__.py"
    code = (
        "from clawline.plugins.base import BasePlugin\n"
        "class Gate(BasePlugin):\n"
        "    def __init__(self, config):\n"
        "        self.word = config['word']\n"
        "    async def process(self, message):\n"
        "        if self.word in message['text']:\n"
        "            return {'action': 'reject', 'reason': 'No ' + self.word + ' here, ' + message['sender'] + '.'}\n"
        "        return {'action': 'approve'}\n"
    )
    module = Path(package).parent / "gate.py"
    module.write_text(code, encoding="utf-8")
    write_manifest(module, manifest("Gate", "gate", ["process"], config={"word": {"type": "string"}}))
    text = BASE + f'plugins:\n  - {{module: "{plugin_module}.gate", class: "Gate", config: {{word: spam}}}}\n'
    text += "rules:\n  - {name: hi, when: 'true', then: [{reply: hello}]}\n"
    engine = make_engine(tmp_path / "bot", text)
    assert say(engine, "some spam", sender="ann").texts == ["No spam here, ann."]
    assert say(engine, "hello").texts == ["Hello!"]


# ----- manifests --------------------------------------------------------------------------------------------------


def test_a_plugin_without_a_manifest_does_not_load(tmp_path, plugin_module):
    ((tmp_path / "pkgs" / plugin_module / "__init__.py").parent / "manifest.yaml").unlink()
    with pytest.raises(BotDefinitionError) as info:
        Bot.load(write_bot(tmp_path / "bot", bot_with(plugin_module, ["Greeter"], "  - {name: x, then: []}\n")))
    problem = str(info.value)
    assert "bot.yaml:" in problem and "plugins[0]" in problem
    assert "no manifest:" in problem and "manifest.yaml is missing" in problem


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("{greeting: 42}", "invalid config: greeting: expected string, got number"),
        ("{greetng: Hi}", "invalid config: greetng: unknown field (known: greeting)"),
    ],
)
def test_a_config_that_breaks_the_manifest_schema_is_a_located_error(tmp_path, plugin_module, config, expected):
    text = bot_with(plugin_module, [f"Greeter|{config}"], "  - {name: x, then: []}\n")
    with pytest.raises(BotDefinitionError) as info:
        Bot.load(write_bot(tmp_path / "bot", text))
    [problem] = info.value.problems
    assert problem.file.name == "bot.yaml" and problem.line is not None
    assert problem.field == "plugins[0]"
    assert expected in problem.message


def test_a_manifest_whose_hooks_differ_from_the_class_does_not_load(tmp_path, plugin_module):
    path = (tmp_path / "pkgs" / plugin_module / "__init__.py").parent / "manifest.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("- action", "- before_nlu", 1), encoding="utf-8")
    with pytest.raises(BotDefinitionError, match=r"declares hooks \['before_nlu'\] but the class has \['action'\]"):
        Bot.load(write_bot(tmp_path / "bot", bot_with(plugin_module, ["Greeter"], "  - {name: x, then: []}\n")))


@pytest.mark.parametrize(
    ("permissions", "expected"),
    [
        ({"aws": [{"actions": ["dynamodb:*"], "resources": ["*"]}]}, "not `service:*`"),
        ({"network": "anywhere"}, "permissions.network: Input should be a valid list"),
        ({"filesystem": True}, "permissions.filesystem: Extra inputs are not permitted"),
    ],
)
def test_a_manifest_that_breaks_its_own_schema_names_file_and_field(tmp_path, plugin_module, permissions, expected):
    module = tmp_path / "pkgs" / plugin_module / "__init__.py"
    write_manifest(module, manifest("Greeter", "greeter", ["action"], permissions=permissions))
    with pytest.raises(BotDefinitionError) as info:
        Bot.load(write_bot(tmp_path / "bot", bot_with(plugin_module, ["Greeter"], "  - {name: x, then: []}\n")))
    message = info.value.problems[0].message
    assert f"manifest {module.parent / 'manifest.yaml'}:" in message
    assert expected in message


def test_manifest_permissions_are_resolved_from_the_bot_config(tmp_path, plugin_module):
    module = tmp_path / "pkgs" / plugin_module / "__init__.py"
    permissions = {
        "network": ["{config.greeting}", "api.example.com:8443"],
        "aws": [
            {"actions": ["dynamodb:GetItem"], "resources": ["arn:aws:dynamodb:eu-west-1:1:table/{config.greeting}"]}
        ],
    }
    config = {"greeting": {"type": "string"}}
    greeter = manifest("Greeter", "greeter", ["action"], config=config, permissions=permissions)
    write_manifest(module, greeter)
    text = bot_with(plugin_module, ["Greeter|{greeting: 'https://hooks.example.org/x'}"], "  - {name: x, then: []}\n")
    [plugin] = Bot.load(write_bot(tmp_path / "bot", text)).plugins
    assert plugin.permissions.allows_host("hooks.example.org", 443)
    assert plugin.permissions.allows_host("api.example.com", 8443)
    assert not plugin.permissions.allows_host("api.example.com", 443)
    assert not plugin.permissions.allows_host("example.org", 443)
    assert plugin.permissions.aws[0].resources == ["arn:aws:dynamodb:eu-west-1:1:table/https://hooks.example.org/x"]


def test_a_config_value_cannot_widen_a_permission_with_a_wildcard(tmp_path, plugin_module):
    module = tmp_path / "pkgs" / plugin_module / "__init__.py"
    permissions = {"aws": [{"actions": ["sns:Publish"], "resources": ["arn:aws:sns:eu-west-1:1:{config.greeting}"]}]}
    config = {"greeting": {"type": "string"}}
    greeter = manifest("Greeter", "greeter", ["action"], config=config, permissions=permissions)
    write_manifest(module, greeter)
    text = bot_with(plugin_module, ["Greeter|{greeting: '*'}"], "  - {name: x, then: []}\n")
    with pytest.raises(BotDefinitionError, match="a config value may not add a wildcard"):
        Bot.load(write_bot(tmp_path / "bot", text))


def test_the_manifest_time_budget_applies_and_the_bot_may_only_lower_it(tmp_path, plugin_module):
    module = tmp_path / "pkgs" / plugin_module / "__init__.py"
    write_manifest(module, manifest("Slow", "slow", ["action"], timeout_ms=40))
    rules = "  - {name: call, when: 'true', then: [{plugin: slow}]}\n"
    text = bot_with(plugin_module, ["Slow"], rules).replace(
        "settings: {mode: hybrid}", "settings: {mode: hybrid, plugin_error: failed, plugin_timeout_ms: 20000}"
    )
    engine = make_engine(tmp_path / "bot", text)
    assert engine.bot.plugins[0].timeout_s == 0.04
    assert say(engine, "hi").texts == ["Plugin trouble."]
