"""The reminder delivery path in the translated template: the scheduler's role can do one thing (invoke the
reminder function, dead-letter what it could not deliver), only for this account's schedule group, and what the
function cannot process ends in the dead-letter queue."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from clawline.cli import main
from tests.iac.conftest import TEMPLATE, translate
from tests.iac.test_translated_template import as_list, function_role, iam_statements, referenced, role_statements

pytestmark = pytest.mark.iac


def test_only_the_schedule_group_of_this_account_can_have_scheduler_assume_the_role(
    resources: dict[str, dict[str, Any]],
) -> None:
    trust = resources["ReminderSchedulerRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
    (condition,) = [s["Condition"] for s in trust]
    assert condition["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert referenced(condition["ArnEquals"]["aws:SourceArn"]) == {"ReminderScheduleGroup"}


def test_the_scheduler_role_invokes_the_reminder_function_alone_and_dead_letters_to_the_queue(
    resources: dict[str, dict[str, Any]],
) -> None:
    granted = {
        (action, frozenset(referenced(resource)))
        for owner, statement in iam_statements(resources)
        if owner == "ReminderSchedulerRole"
        for action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }
    assert granted == {
        # The alias: its EventInvokeConfig (retries, OnFailure) is set on "live", not on $LATEST.
        ("lambda:InvokeFunction", frozenset({"ReminderFunctionAliaslive"})),
        ("sqs:SendMessage", frozenset({"DeadLetterQueue"})),
    }
    assert function_role(resources, "ReminderFunction") != "ReminderSchedulerRole"


def test_reminders_the_function_cannot_deliver_end_in_the_dead_letter_queue(
    resources: dict[str, dict[str, Any]],
) -> None:
    configs = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
        and referenced(r["Properties"]["FunctionName"]) == {"ReminderFunction"}
    ]
    (config,) = configs
    assert referenced(config["DestinationConfig"]["OnFailure"]["Destination"]) == {"DeadLetterQueue"}


def test_the_outputs_name_what_a_bots_reminder_config_needs(cfn: dict[str, Any]) -> None:
    outputs = cfn["Outputs"]
    # The published alias, as SAM translates `!Ref ReminderFunction.Alias`.
    assert outputs["ReminderFunctionArn"]["Value"] == {"Ref": "ReminderFunctionAliaslive"}
    assert referenced(outputs["ReminderSchedulerRoleArn"]["Value"]) == {"ReminderSchedulerRole"}
    assert referenced(outputs["ReminderScheduleGroupName"]["Value"]) == {"ReminderScheduleGroup"}
    assert referenced(outputs["DeadLetterQueueArn"]["Value"]) == {"DeadLetterQueue"}


BOT = """
name: assistant
plugins:
  - module: plugins.reminder
    class: ReminderPlugin
    config:
      target_arn: "arn:aws:lambda:us-east-1:123456789012:function:clawline-reminder-dev"
      role_arn: "arn:aws:iam::123456789012:role/clawline-dev-ReminderSchedulerRole-1A2B3C"
      group: clawline-reminders-dev
rules:
  - {name: remind, when: text.contains("remind"), then: [{plugin: {name: reminder, params: {in_minutes: 30}}}]}
responses:
  fallback: ["Sorry?"]
"""


def test_a_bot_with_reminders_lets_its_message_functions_schedule_in_its_group_and_pass_only_its_role(
    tmp_path: Path,
) -> None:
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "bot.yaml").write_text(BOT, encoding="utf-8")
    template = tmp_path / "template.yaml"
    shutil.copy(TEMPLATE, template)
    assert main(["plugins", "policy", "--bot", str(tmp_path / "bot"), "--apply", str(template)]) == 0
    resources = translate(template)["Resources"]

    def plugin_grants(function: str) -> set[tuple[str, str]]:
        return {
            (action, str(resource["Fn::Sub"] if isinstance(resource, dict) else resource))
            for st in role_statements(resources, function_role(resources, function))
            if str(st.get("Sid", "")).startswith("ClawlinePlugin")
            for action in as_list(st["Action"])
            for resource in as_list(st["Resource"])
        }

    expected = {
        (
            "scheduler:CreateSchedule",
            "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/clawline-reminders-dev/clawline-*",
        ),
        ("iam:PassRole", "arn:aws:iam::123456789012:role/clawline-dev-ReminderSchedulerRole-1A2B3C"),
    }
    for function in ("HttpFunction", "WebSocketFunction", "MqttFunction"):
        assert plugin_grants(function) == expected, function
    # The reminder function runs no plugin: it never schedules nor passes a role.
    assert plugin_grants("ReminderFunction") == set()
