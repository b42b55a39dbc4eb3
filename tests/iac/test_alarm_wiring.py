"""Issue 17 item 7 on the translated template: a prod stack cannot deploy alarms that notify nobody, and the
dashboard's name cannot collide when the same stage runs in two regions (dashboards are global to an account).
The alarms' series and the failures that fire them are in tests/functional/test_metric_wiring.py."""

from __future__ import annotations

from typing import Any

import pytest

from tests.iac.rules import evaluate

pytestmark = pytest.mark.iac


def refused(cfn: dict[str, Any], **overrides: str) -> list[str]:
    """AssertDescriptions of the rules that would refuse a deploy with these parameters."""
    params = {name: str(p.get("Default", "")) for name, p in cfn["Parameters"].items()} | overrides
    failed = []
    for rule in cfn.get("Rules", {}).values():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], params):
            continue
        failed += [a["AssertDescription"] for a in rule["Assertions"] if not evaluate(a["Assert"], params)]
    return failed


def test_a_prod_stack_without_alarm_email_is_refused_and_others_deploy(cfn: dict[str, Any]) -> None:
    assert any("AlarmEmail" in d for d in refused(cfn, Stage="prod", AlarmEmail=""))
    assert not any("AlarmEmail" in d for d in refused(cfn, Stage="prod", AlarmEmail="ops@example.com"))
    assert not any("AlarmEmail" in d for d in refused(cfn, Stage="dev", AlarmEmail=""))


def test_dashboard_name_differs_per_region_and_stage(resources: dict[str, dict[str, Any]]) -> None:
    name = resources["Dashboard"]["Properties"]["DashboardName"]["Fn::Sub"]
    assert "${Stage}" in name
    assert "${AWS::Region}" in name


def test_every_alarm_notifies_the_alarm_topic_and_its_threshold_is_a_parameter_or_zero(
    resources: dict[str, dict[str, Any]], cfn: dict[str, Any]
) -> None:
    alarms = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert len(alarms) >= 6
    for logical_id, props in alarms.items():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        threshold = props["Threshold"]
        assert threshold == 0 or threshold["Ref"] in cfn["Parameters"], logical_id
