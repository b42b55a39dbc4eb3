"""R8, R16, S13 (template half), S16, S20: properties the template must state, checked on template.yaml itself.

tests/iac (another tier) translates the template with SAM; these read the YAML as written, so they name exactly
what a reviewer would look for.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local.template import Template

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
CFN_LINT = ROOT / ".venv-sam" / "bin" / "cfn-lint"
FUNCTIONS = ("HttpFunction", "WebSocketFunction", "MqttFunction", "AuthorizerFunction", "ReminderFunction")


@pytest.fixture(scope="module")
def tpl() -> Template:
    return Template.read()


def props(tpl: Template, logical_id: str) -> dict[str, Any]:
    return dict(tpl.resources[logical_id].get("Properties", {}))


def globals_function(tpl: Template) -> dict[str, Any]:
    return dict(tpl.data.get("Globals", {}).get("Function", {}))


def test_r08_iot_function_has_on_failure_destination_retries_rule_error_action_and_an_alarm(tpl: Template) -> None:
    config = props(tpl, "MqttFunction")["EventInvokeConfig"]
    assert 0 <= config["MaximumRetryAttempts"] <= 2
    assert 60 <= config["MaximumEventAgeInSeconds"] <= 6 * 3600
    on_failure = config["DestinationConfig"]["OnFailure"]
    assert on_failure["Type"] == "SQS"
    assert on_failure["Destination"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}

    (rule_id,) = tpl.of_type("AWS::IoT::TopicRule")
    payload = props(tpl, rule_id)["TopicRulePayload"]
    assert payload["ErrorAction"]["Sqs"]["QueueUrl"] == {"Ref": "DeadLetterQueue"}
    assert any("Lambda" in action for action in payload["Actions"])

    watched = [
        a
        for a in tpl.of_type("AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/SQS"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}
        in a["Properties"].get("Dimensions", [])
    ]
    assert watched, "no alarm watches the dead-letter queue"
    assert watched[0]["Properties"]["Threshold"] == 0


def test_r16_route_throttling_reserved_concurrency_and_timeouts_under_the_integration_limit(tpl: Template) -> None:
    http_routes = props(tpl, "HttpApi")["DefaultRouteSettings"]
    ws_routes = props(tpl, "WebSocketStage")["DefaultRouteSettings"]
    for routes in (http_routes, ws_routes):
        assert routes["ThrottlingRateLimit"] and routes["ThrottlingBurstLimit"]
    # Reserved concurrency: set for every function through Globals by a parameter. Its default is 0 (none): a new
    # account's concurrency quota cannot hold a reservation (issue 17 item 4; tests/iac/test_first_deploy.py).
    reserved = globals_function(tpl)["ReservedConcurrentExecutions"]
    assert reserved["Fn::If"][0] == "HasConcurrencyLimit"
    assert reserved["Fn::If"][1] == {"Ref": "FunctionConcurrency"}
    assert int(tpl.parameters["FunctionConcurrency"]) == 0
    for fn in FUNCTIONS:
        assert "ReservedConcurrentExecutions" not in props(tpl, fn) or props(tpl, fn)["ReservedConcurrentExecutions"]
        timeout = props(tpl, fn).get("Timeout", globals_function(tpl)["Timeout"])
        assert timeout < 29, fn
    assert props(tpl, "WebSocketIntegration")["TimeoutInMillis"] <= 29000


SECRETISH = re.compile(r"SECRET|TOKEN|PASSWORD|KEY", re.IGNORECASE)


def _environments(tpl: Template) -> dict[str, dict[str, Any]]:
    envs = {"Globals": globals_function(tpl).get("Environment", {}).get("Variables", {})}
    for fn in FUNCTIONS:
        envs[fn] = props(tpl, fn).get("Environment", {}).get("Variables", {})
    return envs


def test_s13_environment_holds_secret_names_and_arns_never_secrets(tpl: Template) -> None:
    for where, variables in _environments(tpl).items():
        for name, value in variables.items():
            if SECRETISH.search(name):
                assert name.endswith(("_ARN", "_NAME")), f"{where}: {name} looks like a secret value"
            if isinstance(value, str):
                assert not re.search(r"eyJ[\w-]+\.|-----BEGIN|AKIA[A-Z0-9]{16}", value), f"{where}: {name}"
    for name, spec in tpl.data.get("Parameters", {}).items():
        if SECRETISH.search(name) and spec.get("Type") == "String":
            assert name.endswith(("Name", "Arn")) or spec.get("NoEcho") is True, name


def test_s14_lambda_event_logging_is_never_enabled(tpl: Template) -> None:
    for where, variables in _environments(tpl).items():
        assert str(variables.get("POWERTOOLS_LOGGER_LOG_EVENT", "false")).lower() != "true", where


def _statements(policies: Any) -> list[dict[str, Any]]:
    """Inline statements of a SAM function's Policies (through Fn::If), skipping SAM policy templates."""
    found: list[dict[str, Any]] = []
    for policy in policies or []:
        if isinstance(policy, dict) and "Fn::If" in policy:
            found.extend(_statements([b for b in policy["Fn::If"][1:] if isinstance(b, dict)]))
        elif isinstance(policy, dict) and "Statement" in policy:
            found.extend(policy["Statement"])
    return found


SCOPED_TEMPLATES = {
    "DynamoDBCrudPolicy": "TableName",
    "DynamoDBReadPolicy": "TableName",
    "SQSSendMessagePolicy": "QueueName",
}


def test_s16_least_privilege_one_role_per_function_no_wildcard_actions(tpl: Template) -> None:
    for fn in FUNCTIONS:
        p = props(tpl, fn)
        assert "Role" not in p, f"{fn} shares a role"  # SAM creates one role per function
        for policy in p.get("Policies", []):
            if isinstance(policy, dict) and len(policy) == 1:
                ((name, args),) = policy.items()
                if name in SCOPED_TEMPLATES:
                    assert isinstance(args, dict) and args.get(SCOPED_TEMPLATES[name]), f"{fn}: {name} unscoped"
                else:
                    assert name in ("Statement", "Fn::If"), f"{fn}: unexpected policy template {name}"
        for statement in _statements(p.get("Policies")):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                assert action != "*" and not action.endswith(":*"), f"{fn}: {action}"
                assert not action.startswith("iot:") or action in ("iot:Publish",), f"{fn}: {action}"
            resource = statement["Resource"]
            assert resource != "*", f"{fn}: {actions} on every resource"
            if "execute-api:ManageConnections" in actions:
                text = json.dumps(resource)
                assert "${WebSocketApi}/${Stage}/" in text, "ManageConnections must be scoped to the API and stage"


def test_s16_iot_device_policy_limits_each_certificate_to_its_own_topics(tpl: Template) -> None:
    document = props(tpl, "DevicePolicy")["PolicyDocument"]
    thing = "${!iot:Connection.Thing.ThingName}"
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "iot:*" not in actions
        resource = json.dumps(statement["Resource"])
        assert thing in resource, f"{actions} is not bound to the certificate's own thing"
        if actions != ["iot:Connect"]:
            assert f"clawline/{thing}/" in resource
        assert "+" not in resource and "#" not in resource and "/*" not in resource.replace(thing, "")


def _checkov_json() -> dict[str, Any]:
    result = subprocess.run(
        [str(CHECKOV), "-f", str(ROOT / "template.yaml"), "--compact", "--quiet", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
        check=False,
    )
    start = result.stdout.find("{")
    return dict(json.loads(result.stdout[start:]))


@pytest.mark.skipif(not CHECKOV.exists(), reason="checkov lives in .venv-checkov: run `make security` to create it")
def test_s20_checkov_passes_with_justified_in_template_skips_only(tpl: Template) -> None:
    report = _checkov_json()
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["parsing_errors"] == 0
    for logical_id, resource in tpl.resources.items():
        for skip in (resource.get("Metadata") or {}).get("checkov", {}).get("skip", []):
            assert len(str(skip.get("comment", ""))) >= 30, f"{logical_id}: skip {skip['id']} is not justified"


@pytest.mark.skipif(not CFN_LINT.exists() and not shutil.which("cfn-lint"), reason="cfn-lint comes with `make tools`")
def test_s20_cfn_lint_passes() -> None:
    cfn_lint = str(CFN_LINT) if CFN_LINT.exists() else str(shutil.which("cfn-lint"))
    result = subprocess.run(
        [cfn_lint, str(ROOT / "template.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
