"""Bad bot files fail at load with one clear message naming file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from clawline.bot.compiled import Bot
from clawline.bot.loader import BotDefinitionError

from .helpers import BASE, write_bot

GOOD = (
    BASE
    + """
intents:
  greet: {examples: [hi, hello]}
rules:
  - name: greet
    when: intent == "greet"
    then: [{reply: hello}]
"""
)


def load_error(tmp_path: Path, text: str, *, base_responses: bool = True, **files: str) -> BotDefinitionError:
    with pytest.raises(BotDefinitionError) as info:
        Bot.load(write_bot(tmp_path, text, base_responses=base_responses, **files))
    return info.value


def test_a_valid_bot_loads_with_its_rules_compiled(tmp_path):
    bot = Bot.load(write_bot(tmp_path, GOOD))
    assert bot.name == "testbot"
    assert [r.name for r in bot.rules.ordered] == ["greet"]


def test_yaml_syntax_error_names_the_file_and_line(tmp_path):
    error = load_error(tmp_path, "name: x\nresponses:\n  fallback: [oops\n", base_responses=False)
    assert len(error.problems) == 1
    problem = error.problems[0]
    assert problem.file == tmp_path / "bot.yaml"
    assert problem.line == 4
    assert "YAML syntax error" in str(error)


def test_unknown_field_names_file_line_and_field(tmp_path):
    error = load_error(
        tmp_path, GOOD.replace("    then: [{reply: hello}]", "    then: [{reply: hello}]\n    sotp: true")
    )
    [problem] = error.problems
    assert problem.field == "rules[0].sotp"
    # The allowed list grows with the format: check its shape and a few members, not the whole list.
    assert problem.message.startswith("unknown field (allowed: ")
    assert {"name", "when", "then", "stop"} <= set(problem.message.split("allowed: ")[1].split(";")[0].split(", "))
    assert problem.message.endswith("did you mean 'stop'?)")
    assert problem.line == GOOD.splitlines().index("    then: [{reply: hello}]") + 2


def test_unknown_top_level_field_lists_the_allowed_ones(tmp_path):
    error = load_error(tmp_path, GOOD + "intnets: {}\n")
    assert "intnets: unknown field (top-level fields:" in str(error)


def test_bad_cel_expression_is_reported_with_the_rule_line(tmp_path):
    error = load_error(tmp_path, GOOD.replace('when: intent == "greet"', 'when: intent == "greet" &&'))
    [problem] = error.problems
    assert problem.field == "rules[0].when"
    assert "invalid CEL expression" in problem.message
    assert problem.line == GOOD.splitlines().index('    when: intent == "greet"') + 1


def test_unknown_variable_in_a_condition_is_a_load_error(tmp_path):
    error = load_error(tmp_path, GOOD.replace('when: intent == "greet"', 'when: intnet == "greet"'))
    assert "unknown variable(s) intnet" in str(error)


def test_unknown_cel_function_is_a_load_error(tmp_path):
    error = load_error(tmp_path, GOOD.replace('when: intent == "greet"', "when: text.lowerAscii() == 'hi'"))
    assert "unknown function(s) lowerAscii" in str(error)


def test_invalid_regex_in_matches_is_a_load_error(tmp_path):
    error = load_error(tmp_path, GOOD.replace('when: intent == "greet"', "when: 'text.matches(\"(unclosed\")'"))
    assert "invalid regular expression '(unclosed'" in str(error)


def test_missing_response_is_named_with_a_suggestion(tmp_path):
    error = load_error(tmp_path, GOOD.replace("{reply: hello}", "{reply: helo}"))
    [problem] = error.problems
    assert problem.field == "rules[0].then[0].reply"
    assert problem.message == "unknown response 'helo' (did you mean 'hello'?)"


def test_fallback_response_must_exist(tmp_path):
    error = load_error(tmp_path, GOOD + 'responses:\n  hello: ["Hello!"]\n', base_responses=False)
    assert "settings.fallback: unknown response 'fallback'" in str(error)


def test_unknown_plugin_module_names_the_module(tmp_path):
    text = GOOD + 'plugins:\n  - {module: "plugins.nope", class: "Nope"}\n'
    error = load_error(tmp_path, text)
    [problem] = error.problems
    assert problem.field == "plugins[0]"
    assert "module 'plugins.nope' not found" in problem.message


def test_unknown_plugin_in_an_action_is_a_load_error(tmp_path):
    error = load_error(tmp_path, GOOD.replace("{reply: hello}", "{plugin: ghost}"))
    assert "unknown plugin 'ghost'" in str(error)


def test_unknown_action_lists_the_action_keys(tmp_path):
    error = load_error(tmp_path, GOOD.replace("{reply: hello}", "{shout: hello}"))
    [problem] = error.problems
    assert problem.field == "rules[0].then[0]"
    assert "exactly one of the keys: reply, set_slot" in problem.message


def test_duplicate_rule_names_are_rejected(tmp_path):
    extra = "  - name: greet\n    then: [{reply: hello}]\n"
    error = load_error(tmp_path, GOOD + extra)
    assert "rule name 'greet' is already used by rules[0]" in str(error)


def test_form_slots_need_an_ask_response(tmp_path):
    text = GOOD + "slots:\n  size: {}\n"
    text = text.replace("    then: [{reply: hello}]", "    require: [size]\n    then: [{reply: hello}]")
    error = load_error(tmp_path, text)
    assert "slot 'size' is required by a form but has no `ask` response" in str(error)


def test_template_with_an_unknown_slot_is_a_load_error(tmp_path):
    error = load_error(tmp_path, GOOD + 'responses:\n  named: ["Hello {slots.nmae}!"]\n')
    assert "responses.named[0].text: unknown slot 'nmae' in template" in str(error)


def test_every_problem_is_reported_at_once(tmp_path):
    text = GOOD.replace("{reply: hello}", "{reply: helo}").replace('intent == "greet"', "intent ==")
    error = load_error(tmp_path, text)
    assert len(error.problems) == 2


def test_included_files_are_merged_and_errors_name_the_included_file(tmp_path):
    text = BASE + "settings: {include: [rules/*.yaml]}\n"
    text = text.replace("settings: {mode: hybrid}\n", "")
    rules = "rules:\n  - name: hi\n    then: [{reply: hello}]\n  - name: bad\n    then: [{reply: nope}]\n"
    error = load_error(tmp_path, text, **{"rules__extra.yaml": rules})
    [problem] = error.problems
    assert problem.file == tmp_path / "rules" / "extra.yaml"
    assert problem.line == 5
    assert problem.field == "rules[1].then[0].reply"


def test_included_files_cannot_redefine_a_key(tmp_path):
    text = BASE.replace("settings: {mode: hybrid}", "settings: {include: [more.yaml]}")
    error = load_error(tmp_path, text, **{"more.yaml": 'responses:\n  hello: ["Hi again"]\n'})
    [problem] = error.problems
    assert problem.field == "responses.hello"
    assert "defined twice (first defined at" in problem.message


def test_a_missing_include_is_reported(tmp_path):
    text = BASE.replace("settings: {mode: hybrid}", "settings: {include: [missing.yaml]}")
    assert "no file matches 'missing.yaml'" in str(load_error(tmp_path, text))


def test_duplicate_yaml_keys_are_an_error_not_silently_overwritten(tmp_path):
    error = load_error(tmp_path, BASE + "responses:\n  other: [x]\nresponses:\n  more: [y]\n")
    assert "duplicate key" in str(error)


def test_the_default_bot_is_valid():
    bot = Bot.load(Path(__file__).resolve().parents[3] / "bots" / "default")
    assert len(bot.rules) > 5
    assert [p.name for p in bot.plugins] == ["sample"]


def test_a_self_referencing_yaml_alias_is_refused_cleanly(tmp_path):
    error = load_error(tmp_path, "name: x\nresponses:\n  fallback: &a [*a]\n", base_responses=False)
    assert "alias refers to itself" in str(error)


def test_a_file_that_is_not_utf8_is_refused_cleanly(tmp_path):
    (tmp_path / "bot.yaml").write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(BotDefinitionError, match="not UTF-8"):
        Bot.load(tmp_path)


def test_exponential_alias_expansion_is_refused(tmp_path, monkeypatch):
    from clawline.bot import loader

    monkeypatch.setattr(loader, "MAX_YAML_VALUES", 10_000)  # the mechanism, without expanding 500,000 values
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    error = load_error(tmp_path, "name: x\n" + "\n".join(levels) + "\n", base_responses=False)
    assert "alias expansion" in str(error)
