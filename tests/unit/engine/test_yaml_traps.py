"""`clawline validate` warns about YAML traps in text fields: unquoted yes/no/on/off (booleans), dates and
numbers (non-strings, or a changed text), and examples starting with "[" (a list, or a syntax error)."""

from __future__ import annotations

from clawline.cli import main

from .helpers import write_bot

TRAPS = """
name: traps
settings:
  include: [nlu.yaml]
intents:
  affirm: {examples: ["sure", yes, on]}
  when:
    examples:
      - 2024-01-01
      - [savings]
responses:
  fallback: ["?"]
  ok: [Off]
"""


def test_validate_names_each_yaml_trap_with_file_line_and_fix(tmp_path, capsys):
    bot = write_bot(
        tmp_path,
        TRAPS,
        base_responses=False,
        **{
            "nlu.yaml": "intents:\n  count: {examples: [007]}\n",
            "stories__s.yaml": "stories:\n  - name: s\n    steps:\n      - {user: 1.50, bot: no}\n      - {user: 2}\n",
        },
    )
    assert main(["validate", str(bot)]) == 1
    err = capsys.readouterr().err
    for line in (
        'bot.yaml:6: intents.affirm.examples[1]: YAML reads the unquoted yes as a boolean, not text: write "yes"',
        'bot.yaml:6: intents.affirm.examples[2]: YAML reads the unquoted on as a boolean, not text: write "on"',
        "bot.yaml:9: intents.when.examples[0]: YAML reads the unquoted 2024-01-01 as a date, not text",
        "bot.yaml:10: intents.when.examples[1]: YAML reads [savings] as a list, not text",
        'bot.yaml:13: responses.ok[0]: YAML reads the unquoted Off as a boolean, not text: write "Off"',
        'nlu.yaml:2: intents.count.examples[0]: YAML reads the unquoted 007 as a number, not text: write "007"',
        "s.yaml:4: stories[0].steps[0].user: YAML reads the unquoted 1.50 as a number, so the text is 1.5",
        's.yaml:4: stories[0].steps[0].bot: YAML reads the unquoted no as a boolean, not text: write "no"',
    ):
        assert f"{line}" in err, line
    assert "steps[1].user" not in err  # `user: 2` is the text "2": no trap
    assert "examples[0]: YAML reads the unquoted sure" not in err


def test_an_example_starting_with_an_annotation_gets_a_hint_beside_the_syntax_error(tmp_path, capsys):
    text = "name: t\nintents:\n  a:\n    examples:\n      - [savings](account) please\nresponses: {fallback: ['?']}\n"
    assert main(["validate", str(write_bot(tmp_path, text, base_responses=False))]) == 1
    err = capsys.readouterr().err
    assert "bot.yaml:5: YAML reads [savings](account) please as a list followed by more text: quote the example" in err
    assert "YAML syntax error" in err


def test_a_bot_without_traps_gets_no_warning(tmp_path, capsys):
    text = 'name: t\nintents:\n  a: {examples: ["yes", "2024-01-01", "[savings](account) please"]}\n'
    assert main(["validate", str(write_bot(tmp_path, text))]) == 0
    assert "warning" not in capsys.readouterr().err
