"""Assertions on the template after the SAM transform: the limits, failure paths, data protection and least
privilege that a deploy must carry, checked on what CloudFormation would actually create.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.iac

#: API Gateway's integration timeout: a function must give up before the gateway does.
INTEGRATION_TIMEOUT_SECONDS = 29
FUNCTIONS = ("HttpFunction", "WebSocketFunction", "MqttFunction", "AuthorizerFunction", "ReminderFunction")
MESSAGE_FUNCTIONS = ("HttpFunction", "WebSocketFunction", "MqttFunction")
#: The optional NLU embedding layer, appended to the message functions' layers when its ARN is given.
EMBEDDING_LAYER = {"Fn::If": ["HasNluEmbeddingLayer", {"Ref": "NluEmbeddingLayerArn"}, {"Ref": "AWS::NoValue"}]}
SENSITIVE_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|KEY", re.IGNORECASE)
REFERENCE_SUFFIXES = ("_NAME", "_ARN", "_URL")


def of_type(resources: dict[str, dict[str, Any]], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in resources.items() if v["Type"] == type_name}


def referenced(value: Any) -> set[str]:
    """Logical ids a value refers to through Ref, GetAtt or Sub."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref":
                found.add(str(arg))
            elif key == "Fn::GetAtt":
                found.add(str(arg[0] if isinstance(arg, list) else str(arg).split(".")[0]))
            elif key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                names = re.findall(r"\$\{([^}!]+)\}", text)
                found.update(m.split(".")[0] for m in names if m not in variables)  # a variable is no logical id
                if isinstance(arg, list):
                    found |= referenced(arg[1])
            else:
                found |= referenced(arg)
    elif isinstance(value, list):
        for item in value:
            found |= referenced(item)
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def iam_statements(resources: dict[str, dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(owner, statement) for every identity policy: role inline policies and standalone IAM policies."""
    for logical_id, res in resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Role":
            for policy in unwrap_conditions(props.get("Policies", [])):
                for statement in as_list(policy["PolicyDocument"]["Statement"]):
                    yield logical_id, statement
        elif res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for statement in as_list(props["PolicyDocument"]["Statement"]):
                yield logical_id, statement


def unwrap_conditions(items: list[Any]) -> Iterator[dict[str, Any]]:
    """Each item, or both branches of an ``Fn::If`` around one (``AWS::NoValue`` dropped)."""
    for item in items:
        if isinstance(item, dict) and "Fn::If" in item:
            yield from unwrap_conditions([b for b in item["Fn::If"][1:] if b != {"Ref": "AWS::NoValue"}])
        else:
            yield item


def statements_with_conditions(statement: Any) -> Iterator[dict[str, Any]]:
    """A statement, or both branches of an ``Fn::If`` around one."""
    if isinstance(statement, dict) and "Fn::If" in statement:
        for branch in statement["Fn::If"][1:]:
            yield from statements_with_conditions(branch)
    elif isinstance(statement, dict) and "Effect" in statement:
        yield statement


def function_role(resources: dict[str, dict[str, Any]], function: str) -> str:
    (role,) = referenced(resources[function]["Properties"]["Role"])
    return role


def role_statements(resources: dict[str, dict[str, Any]], role: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for owner, statement in iam_statements(resources):
        if owner == role:
            out.extend(statements_with_conditions(statement))
    return out


def test_both_api_stages_are_throttled(resources: dict[str, dict[str, Any]], cfn: dict[str, Any]) -> None:
    stages = of_type(resources, "AWS::ApiGatewayV2::Stage")
    apis = {next(iter(referenced(s["Properties"]["ApiId"]))) for s in stages.values()}
    assert apis == {"HttpApi", "WebSocketApi"}
    for name, stage in stages.items():
        settings = stage["Properties"]["DefaultRouteSettings"]
        for key, parameter in (("ThrottlingRateLimit", "ApiRateLimit"), ("ThrottlingBurstLimit", "ApiBurstLimit")):
            assert settings[key] == {"Ref": parameter}, name
            assert int(cfn["Parameters"][parameter]["Default"]) > 0


def test_every_function_times_out_before_the_api_gateway_integration(resources: dict[str, dict[str, Any]]) -> None:
    functions = of_type(resources, "AWS::Lambda::Function")
    assert set(functions) == set(FUNCTIONS)
    for name, function in functions.items():
        assert 0 < int(function["Properties"]["Timeout"]) < INTEGRATION_TIMEOUT_SECONDS, name
    for integration in of_type(resources, "AWS::ApiGatewayV2::Integration").values():
        assert int(integration["Properties"].get("TimeoutInMillis", 29000)) <= INTEGRATION_TIMEOUT_SECONDS * 1000


def test_every_function_takes_its_reservation_from_the_concurrency_parameter(
    resources: dict[str, dict[str, Any]],
) -> None:
    for name in FUNCTIONS:
        reserved = resources[name]["Properties"]["ReservedConcurrentExecutions"]
        assert reserved == {"Fn::If": ["HasConcurrencyLimit", {"Ref": "FunctionConcurrency"}, {"Ref": "AWS::NoValue"}]}


def test_every_function_runs_python313_with_both_layers_and_the_tracing_and_arch_parameters(
    resources: dict[str, dict[str, Any]],
) -> None:
    for name in FUNCTIONS:
        props = resources[name]["Properties"]
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == [{"Ref": "Arch"}]
        assert props["TracingConfig"] == {"Mode": {"Ref": "FunctionTracing"}}
        layers = [next(iter(referenced(layer))) for layer in props["Layers"][:2]]
        assert [layer.rstrip("0123456789abcdef") for layer in layers] == ["EngineLayer", "BotLayer"], name
        if name not in MESSAGE_FUNCTIONS:
            assert props["Layers"][2:] == [], name
            continue
        # Then the NLU layer (numpy) when the bot classifies, then the embedding layer when given.
        nlu, embedding = props["Layers"][2:]
        condition, layer, absent = nlu["Fn::If"]
        assert (condition, absent) == ("HasNluLayer", {"Ref": "AWS::NoValue"}), name
        assert [ref.rstrip("0123456789abcdef") for ref in referenced(layer)] == ["NluLayer"], name
        assert embedding == EMBEDDING_LAYER, name


def test_the_embedding_layer_parameter_switches_the_message_functions_to_the_embedding_classifier(
    resources: dict[str, dict[str, Any]],
) -> None:
    for name in MESSAGE_FUNCTIONS:
        props = resources[name]["Properties"]
        assert props["MemorySize"] == {"Fn::If": ["HasNluEmbeddingLayer", 1024, 512]}, name
        backend = props["Environment"]["Variables"]["CLAWLINE_NLU_BACKEND"]
        assert backend == {"Fn::If": ["HasNluEmbeddingLayer", "embedding", "linear"]}, name


#: The alias every deploy publishes (AutoPublishAlias: live), as the SAM transform names it.
ALIAS = {name: f"{name}Aliaslive" for name in FUNCTIONS}


def test_snapstart_is_a_parameter_off_by_default_on_every_function_behind_its_live_alias(
    cfn: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    assert cfn["Parameters"]["SnapStart"]["Default"] == "false"
    assert cfn["Conditions"]["HasSnapStart"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "true"]}
    for name in FUNCTIONS:
        props = resources[name]["Properties"]
        assert props["SnapStart"] == {"ApplyOn": {"Fn::If": ["HasSnapStart", "PublishedVersions", "None"]}}, name
        alias = resources[ALIAS[name]]
        assert alias["Type"] == "AWS::Lambda::Alias" and alias["Properties"]["Name"] == "live", name
        version = next(iter(referenced(alias["Properties"]["FunctionVersion"])))
        assert resources[version]["Type"] == "AWS::Lambda::Version", name


def test_every_invoker_calls_the_published_alias_so_snapstart_applies(resources: dict[str, dict[str, Any]]) -> None:
    # SnapStart resumes only published versions: an API or rule wired to the unqualified function ($LATEST) would
    # cold-start from scratch whatever the parameter says.
    targets: dict[str, set[str]] = {}
    for permission in of_type(resources, "AWS::Lambda::Permission").values():
        function = permission["Properties"]["FunctionName"]
        targets.setdefault("permissions", set()).update(referenced(function))
    for integration in of_type(resources, "AWS::ApiGatewayV2::Integration").values():
        targets.setdefault("integrations", set()).update(referenced(integration["Properties"]["IntegrationUri"]))
    for authorizer in of_type(resources, "AWS::ApiGatewayV2::Authorizer").values():
        targets.setdefault("authorizers", set()).update(referenced(authorizer["Properties"]["AuthorizerUri"]))
    for rule in of_type(resources, "AWS::IoT::TopicRule").values():
        for action in rule["Properties"]["TopicRulePayload"]["Actions"]:
            targets.setdefault("rules", set()).update(referenced(action["Lambda"]["FunctionArn"]))
    functions = set(FUNCTIONS)
    for kind, refs in targets.items():
        assert refs and not refs & functions, (kind, sorted(refs & functions))
        assert refs - {"AWS::Partition", "AWS::Region"} <= set(ALIAS.values()), (kind, sorted(refs))
    configs = of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
    # The asynchronous functions' retries and OnFailure (MQTT, reminder) apply to the alias their invokers call.
    assert configs and all(c["Properties"]["Qualifier"] == "live" for c in configs)


def test_mqtt_failures_end_in_the_dead_letter_queue(resources: dict[str, dict[str, Any]]) -> None:
    (config,) = [
        c
        for c in of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": "MqttFunction"}
    ]
    props = config["Properties"]
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}
    assert 0 <= props["MaximumRetryAttempts"] <= 2
    assert 60 <= props["MaximumEventAgeInSeconds"] <= 21600


def test_topic_rule_invokes_the_mqtt_function_and_sends_its_errors_to_the_dead_letter_queue(
    resources: dict[str, dict[str, Any]],
) -> None:
    (rule,) = of_type(resources, "AWS::IoT::TopicRule").values()
    payload = rule["Properties"]["TopicRulePayload"]
    sql = " ".join(payload["Sql"].split())
    assert "FROM 'clawline/+/in'" in sql and "topic(2) AS thing" in sql
    assert [referenced(a["Lambda"]["FunctionArn"]) for a in payload["Actions"]] == [{ALIAS["MqttFunction"]}]
    error = payload["ErrorAction"]["Sqs"]
    assert error["QueueUrl"] == {"Ref": "DeadLetterQueue"}
    role = next(iter(referenced(error["RoleArn"])))
    assert role_statements(resources, role) == [
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}}
    ]


def test_a_message_in_the_dead_letter_queue_raises_an_alarm_with_an_action(
    resources: dict[str, dict[str, Any]],
) -> None:
    alarms = [
        a["Properties"]
        for a in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/SQS"
    ]
    (alarm,) = alarms
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["AlarmActions"]


def test_alarm_topic_is_not_encrypted_with_the_key_cloudwatch_cannot_use(
    resources: dict[str, dict[str, Any]],
) -> None:
    for topic in of_type(resources, "AWS::SNS::Topic").values():
        assert topic["Properties"].get("KmsMasterKeyId") != "alias/aws/sns"


def test_tables_are_on_demand_encrypted_and_expire_items(resources: dict[str, dict[str, Any]]) -> None:
    tables = of_type(resources, "AWS::DynamoDB::Table")
    assert {"StateTable", "ConnectionsTable", "RateLimitTable"} <= set(tables)
    for name, table in tables.items():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["SSESpecification"]["SSEEnabled"] is True, name
        assert props["TimeToLiveSpecification"]["Enabled"] is True, name
        assert props["TimeToLiveSpecification"]["AttributeName"], name


def test_tables_have_point_in_time_recovery_unless_a_documented_exception(
    resources: dict[str, dict[str, Any]],
) -> None:
    for name, table in of_type(resources, "AWS::DynamoDB::Table").items():
        pitr = table["Properties"].get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")
        if pitr is True:
            continue
        skips = (table.get("Metadata", {}).get("checkov") or {}).get("skip", [])
        reasons = [s.get("comment", "") for s in skips if s.get("id") == "CKV_AWS_28"]
        assert reasons and all(len(r) > 20 for r in reasons), f"{name}: no PITR and no stated reason"
    for name in ("StateTable", "ConnectionsTable"):
        assert resources[name]["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_no_identity_policy_grants_wildcard_actions(resources: dict[str, dict[str, Any]]) -> None:
    checked = 0
    for owner, statement in iam_statements(resources):
        for st in statements_with_conditions(statement):
            assert "NotAction" not in st, owner
            for action in as_list(st["Action"]):
                assert isinstance(action, str) and "*" not in action, f"{owner}: {action}"
                checked += 1
    assert checked > 20


def test_key_policies_give_kms_star_only_to_the_account_itself(resources: dict[str, dict[str, Any]]) -> None:
    # The standard key policy statement: it delegates to IAM (whose policies are checked above), grants no one.
    for name, key in of_type(resources, "AWS::KMS::Key").items():
        for st in as_list(key["Properties"]["KeyPolicy"]["Statement"]):
            if any("*" in a for a in as_list(st["Action"])):
                principal = st["Principal"]["AWS"]
                assert principal == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}, name


def test_every_function_has_its_own_role(resources: dict[str, dict[str, Any]]) -> None:
    roles = [function_role(resources, name) for name in FUNCTIONS]
    assert len(set(roles)) == len(FUNCTIONS)


def test_manage_connections_is_scoped_to_the_websocket_api_and_granted_only_to_the_functions_that_push(
    resources: dict[str, dict[str, Any]],
) -> None:
    holders = []
    for owner, statement in iam_statements(resources):
        for st in statements_with_conditions(statement):
            if "execute-api:ManageConnections" in as_list(st["Action"]):
                holders.append(owner)
                for resource in as_list(st["Resource"]):
                    assert "WebSocketApi" in referenced(resource)
                    assert "@connections" in str(resource)
    # The WebSocket function answers frames; the reminder function pushes due reminders to the user's connections.
    assert sorted(holders) == sorted(function_role(resources, f) for f in ("WebSocketFunction", "ReminderFunction"))


def test_dynamodb_actions_are_scoped_to_the_stacks_table_arns(resources: dict[str, dict[str, Any]]) -> None:
    tables = set(of_type(resources, "AWS::DynamoDB::Table"))
    granted = 0
    for owner, statement in iam_statements(resources):
        for st in statements_with_conditions(statement):
            if not any(str(a).startswith("dynamodb:") for a in as_list(st["Action"])):
                continue
            for resource in as_list(st["Resource"]):
                assert resource != "*", owner
                assert ":table/" in str(resource), f"{owner}: {resource}"
                assert referenced(resource) & tables, f"{owner}: {resource}"
                granted += 1
    assert granted


def test_lambda_event_logging_is_never_on(resources: dict[str, dict[str, Any]]) -> None:
    for name in FUNCTIONS:
        env = resources[name]["Properties"]["Environment"]["Variables"]
        assert str(env.get("POWERTOOLS_LOGGER_LOG_EVENT", "false")).lower() != "true", name


def test_no_secret_travels_in_an_environment_variable(resources: dict[str, dict[str, Any]]) -> None:
    for name in FUNCTIONS:
        for variable in resources[name]["Properties"]["Environment"]["Variables"]:
            if SENSITIVE_NAME.search(variable):
                assert variable.endswith(REFERENCE_SUFFIXES), f"{name}: {variable}"


def test_http_api_routes_are_authorized_except_health_and_openapi(resources: dict[str, dict[str, Any]]) -> None:
    body = resources["HttpApi"]["Properties"]["Body"]  # SAM writes the HTTP API's routes as an OpenAPI body
    paths = body["paths"]
    assert {"/v1/messages", "/v1/conversations/{conversation_id}/messages", "/health", "/openapi.json"} <= set(paths)
    for path, methods in paths.items():
        for method, operation in methods.items():
            security = operation.get("security")
            if path in ("/health", "/openapi.json"):
                assert security == [{"NONE": []}], path
            else:
                assert security == [{"JwtLambdaAuthorizer": []}], (path, method)
    authorizer = body["components"]["securitySchemes"]["JwtLambdaAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert ALIAS["AuthorizerFunction"] in referenced(authorizer["authorizerUri"])


def test_websocket_connect_goes_through_the_authorizer(resources: dict[str, dict[str, Any]]) -> None:
    connect = resources["ConnectRoute"]["Properties"]
    assert (connect["RouteKey"], connect["AuthorizationType"]) == ("$connect", "CUSTOM")
    authorizer = resources[next(iter(referenced(connect["AuthorizerId"])))]["Properties"]
    assert ALIAS["AuthorizerFunction"] in referenced(authorizer["AuthorizerUri"])


def test_cors_origins_come_from_the_allowed_origins_parameter(
    resources: dict[str, dict[str, Any]], cfn: dict[str, Any]
) -> None:
    from local.template import load

    # The source keeps the reference (CloudFormation passes the list to the transform at deploy time) ...
    source = load()
    assert source["Parameters"]["AllowedOrigins"]["Type"] == "CommaDelimitedList"
    assert source["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"]["AllowOrigins"] == {
        "Ref": "AllowedOrigins"
    }
    # ... and an offline translation substitutes the default, never a wildcard.
    cors = resources["HttpApi"]["Properties"]["Body"]["x-amazon-apigateway-cors"]
    default = cfn["Parameters"]["AllowedOrigins"]["Default"]
    assert cors["allowOrigins"] in (default, default.split(","))
    assert "*" not in str(cors["allowOrigins"])


def test_outputs_give_the_urls_and_topics(cfn: dict[str, Any]) -> None:
    outputs = cfn["Outputs"]
    assert {"HttpApiUrl", "WebSocketUrl", "InboundTopic", "ReplyTopic"} <= set(outputs)
    assert outputs["InboundTopic"]["Value"] == "clawline/+/in"
    assert "wss://" in str(outputs["WebSocketUrl"]["Value"])


def test_engine_layer_is_built_for_the_functions_architecture(resources: dict[str, dict[str, Any]]) -> None:
    engine = [v for k, v in of_type(resources, "AWS::Lambda::LayerVersion").items() if k.startswith("EngineLayer")]
    (layer,) = engine
    assert layer["Properties"]["CompatibleArchitectures"] == [{"Ref": "Arch"}]
    assert layer["Properties"]["CompatibleRuntimes"] == ["python3.13"]
