"""What a first deploy on a fresh account, a redeploy after ``sam delete`` and a later update need from the
template (issue 17 items 3-5), checked on the template as CloudFormation sees it after the SAM transform.

Conditions and intrinsic functions are evaluated by the local runtime's resolver (``local.template``) with the
parameters and stack id a deploy would give.
"""

from __future__ import annotations

import copy
import subprocess
from typing import Any

import pytest

from local.template import Template, load
from tests.package.tools import CFN_LINT, ROOT, require_sam, sam_env

pytestmark = pytest.mark.iac

FUNCTIONS = ("HttpFunction", "WebSocketFunction", "MqttFunction", "AuthorizerFunction", "ReminderFunction")
IMPORT_TEMPLATE = ROOT / "docs" / "examples" / "deploy" / "import-retained-state.yaml"
STACK_A = "arn:aws:cloudformation:eu-west-1:111122223333:stack/clawline-dev/8f1c5e40-0b1e-11ef-9c3a-0a1b2c3d4e5f"
STACK_B = "arn:aws:cloudformation:eu-west-1:111122223333:stack/clawline-dev/1d2e3f40-5a6b-11ef-8d7c-06f5e4d3c2b1"


def deployed(cfn: dict[str, Any], stack_id: str = STACK_A, **parameters: str) -> Template:
    """The translated template as one deploy of it resolves: defaults, then the given parameters."""
    params = {name: str(spec.get("Default", "")) for name, spec in cfn["Parameters"].items()}
    params.update(parameters)
    return Template(copy.deepcopy(cfn), params, refs={"AWS::StackId": stack_id})


def ref_ids(value: Any) -> set[str]:
    return {str(value["Ref"])} if isinstance(value, dict) and "Ref" in value else set()


# ---------------------------------------------------------------- item 3: every WebSocket change is deployed


def websocket_api_id(resources: dict[str, dict[str, Any]]) -> str:
    (api,) = [
        k
        for k, v in resources.items()
        if v["Type"] == "AWS::ApiGatewayV2::Api" and v["Properties"].get("ProtocolType") == "WEBSOCKET"
    ]
    return api


def test_every_change_to_the_websocket_api_is_deployed_to_its_stage(resources: dict[str, dict[str, Any]]) -> None:
    api = websocket_api_id(resources)
    (stage,) = [
        v
        for v in resources.values()
        if v["Type"] == "AWS::ApiGatewayV2::Stage" and ref_ids(v["Properties"]["ApiId"]) == {api}
    ]
    # A Deployment resource is created once and never again (its properties do not change with the routes), so a
    # stage pinned to one keeps serving the first routes and integrations forever.
    one_time = [
        k
        for k, v in resources.items()
        if v["Type"] == "AWS::ApiGatewayV2::Deployment" and ref_ids(v["Properties"]["ApiId"]) == {api}
    ]
    assert one_time == [], "the WebSocket stage would stay on the deployment CloudFormation created first"
    assert stage["Properties"].get("AutoDeploy") is True
    assert "DeploymentId" not in stage["Properties"]  # API Gateway refuses a DeploymentId with AutoDeploy
    # The first automatic deployment happens when the stage is created: every route must exist by then.
    routes = {
        k
        for k, v in resources.items()
        if v["Type"] == "AWS::ApiGatewayV2::Route" and ref_ids(v["Properties"]["ApiId"]) == {api}
    }
    assert routes >= {"ConnectRoute", "DisconnectRoute", "DefaultRoute"}
    depends_on = stage.get("DependsOn", [])
    assert routes <= set([depends_on] if isinstance(depends_on, str) else depends_on)


# ---------------------------------------------------------------- item 4: reserved concurrency


def reservation(template: Template, function: str) -> dict[str, Any]:
    """The function's ReservedConcurrentExecutions as deployed: absent when it resolves to AWS::NoValue."""
    props = template.resources[function]["Properties"]
    resolved: dict[str, Any] = template.resolve({k: v for k, v in props.items() if k == "ReservedConcurrentExecutions"})
    return resolved


def test_no_function_reserves_concurrency_by_default(cfn: dict[str, Any]) -> None:
    template = deployed(cfn)
    for name in FUNCTIONS:
        assert reservation(template, name) == {}, name


@pytest.mark.parametrize("reserved", ["5", "50"])
def test_the_concurrency_parameter_reserves_that_much_for_every_function(cfn: dict[str, Any], reserved: str) -> None:
    template = deployed(cfn, FunctionConcurrency=reserved)
    for name in FUNCTIONS:
        assert reservation(template, name) == {"ReservedConcurrentExecutions": reserved}, name


# ---------------------------------------------------------------- item 5: redeploy after `sam delete`


def table_names(template: Template) -> dict[str, str]:
    return {
        k: str(template.resolve(v["Properties"]["TableName"]))
        for k, v in template.of_type("AWS::DynamoDB::Table").items()
    }


def test_the_state_table_outlives_the_stack(resources: dict[str, dict[str, Any]]) -> None:
    state = resources["StateTable"]
    assert (state.get("DeletionPolicy"), state.get("UpdateReplacePolicy")) == ("Retain", "Retain")


def test_a_new_stack_of_the_same_stage_does_not_collide_with_a_retained_table(cfn: dict[str, Any]) -> None:
    first, second = table_names(deployed(cfn, STACK_A)), table_names(deployed(cfn, STACK_B))
    retained = {
        k for k, v in deployed(cfn).of_type("AWS::DynamoDB::Table").items() if v.get("DeletionPolicy") == "Retain"
    }
    assert "StateTable" in retained
    for name in retained:
        # What `sam delete` leaves behind must not be the name the next stack of the stage creates.
        assert first[name] != second[name], name
        assert first[name].startswith("clawline-state-dev-"), first[name]
    for name in set(first) - retained:
        assert deployed(cfn).resources[name].get("DeletionPolicy", "Delete") == "Delete", name
    # Names stay valid DynamoDB table names and tell the stage.
    for names in (first, second):
        for name in names.values():
            assert 3 <= len(name) <= 255 and all(c.isalnum() or c in "_.-" for c in name), name
    assert table_names(deployed(cfn, STACK_A, Stage="prod"))["StateTable"].startswith("clawline-state-prod-")


def test_the_state_table_name_is_stable_across_updates_of_one_stack(cfn: dict[str, Any]) -> None:
    # A changed TableName replaces the table; an update of the same stack (same id) must resolve to the same name.
    assert (
        table_names(deployed(cfn, STACK_A))["StateTable"]
        == table_names(deployed(cfn, STACK_A, LogRetentionDays="7"))["StateTable"]
    )


def test_an_existing_table_name_keeps_older_stacks_and_reattached_tables_on_their_table(cfn: dict[str, Any]) -> None:
    template = deployed(cfn, STACK_B, ExistingStateTableName="clawline-state-dev-0123456789ab")
    assert table_names(template)["StateTable"] == "clawline-state-dev-0123456789ab"
    # Functions and the output follow the table wherever its name comes from.
    for name in ("HttpFunction", "WebSocketFunction", "MqttFunction"):
        variables = template.resources[name]["Properties"]["Environment"]["Variables"]
        assert template.resolve(variables["CLAWLINE_STATE_TABLE"]) == "clawline-state-dev-0123456789ab", name
    assert template.resolve(template.data["Outputs"]["StateTableName"]["Value"]) == "clawline-state-dev-0123456789ab"


def test_the_import_template_declares_the_retained_resources_exactly_as_the_stack_does() -> None:
    # Importing needs the template to match what exists; a drift here would make the reattach fail or, on the
    # following `sam deploy`, change the table or the key.
    stack, importer = load(), load(IMPORT_TEMPLATE)
    assert set(importer["Resources"]) == {"StateTable", "DataKey"}
    for name, resource in importer["Resources"].items():
        ours = stack["Resources"][name]
        assert resource["Type"] == ours["Type"]
        assert resource["DeletionPolicy"] == ours["DeletionPolicy"] == "Retain", name
        expected = {k: v for k, v in ours["Properties"].items() if k != "TableName"}
        assert {k: v for k, v in resource["Properties"].items() if k != "TableName"} == expected, name
    assert importer["Resources"]["StateTable"]["Properties"]["TableName"] == {"Ref": "ExistingStateTableName"}
    assert set(importer["Parameters"]) <= set(stack["Parameters"])


def test_the_import_template_passes_cfn_lint() -> None:
    require_sam()
    done = subprocess.run(
        [str(CFN_LINT), str(IMPORT_TEMPLATE)],
        cwd=ROOT,
        env=sam_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
