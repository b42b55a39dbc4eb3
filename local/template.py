"""Reads ``template.yaml`` (CloudFormation short-form tags included) so the local runtime and the tests use
the template's own definitions: table keys, indexes and TTL, function handlers, routes and the IoT rule SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

_TAGS = (
    "Ref",
    "Sub",
    "GetAtt",
    "If",
    "Join",
    "Split",
    "Select",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "ImportValue",
    "GetAZs",
    "Base64",
    "Cidr",
    "Condition",
    # Rules functions (``Rules:`` assertions)
    "Contains",
    "EachMemberEquals",
    "EachMemberIn",
    "RefAll",
    "ValueOf",
    "ValueOfAll",
)


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns ``!Tag value`` into the long form ``{"Fn::Tag": value}`` (``Ref`` stays ``Ref``)."""


def _construct(tag: str) -> Any:
    key = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {key: value}

    return construct


for _tag in _TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _construct(_tag))


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a template")
    return data


class _NoValue:
    """What ``!Ref AWS::NoValue`` resolves to: the list item or property is dropped, as CloudFormation does."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()
#: The local stack's id (``AWS::StackId`` ends with a UUID that names the stack's retained table): fixed, so a
#: persistent DynamoDB endpoint finds the same tables on every run.
LOCAL_STACK_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass
class Template:
    data: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    #: What ``Ref`` of a resource gives where the runtime knows better than the name (a queue's URL, say).
    refs: dict[str, str] = field(default_factory=dict)
    #: What ``!GetAtt Logical.Attribute`` gives, for resources the runtime created (a KMS key's ARN, say).
    attributes: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path = TEMPLATE, **overrides: str) -> Template:
        data = load(path)
        params = {name: str(spec.get("Default", "")) for name, spec in (data.get("Parameters") or {}).items()}
        params.update(overrides)
        return cls(data, params)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.data.get("Resources", {})
        return resources

    def of_type(self, type_name: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res.get("Type") == type_name}

    def resolve(self, value: Any) -> Any:
        """Resolve Ref / Sub against parameters and pseudo parameters; resource refs resolve to their names."""
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(str(arg))
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                resolved = {k: self.resolve(v) for k, v in variables.items()}
                return re.sub(
                    r"\$\{([^}!][^}]*)\}",
                    lambda m: str(resolved[m.group(1)] if m.group(1) in resolved else self._ref(m.group(1))),
                    text,
                )
            if key == "Fn::GetAtt":
                name = ".".join(str(a) for a in (arg if isinstance(arg, list) else str(arg).split(".", 1)))
                if name not in self.attributes:
                    raise KeyError(f"the local runtime does not know !GetAtt {name}")
                return self.attributes[name]
            if key == "Fn::If":
                name, when_true, when_false = arg
                return self.resolve(when_true if self.condition(str(name)) else when_false)
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(v)) for v in self.resolve(arg[1]))
            if key == "Fn::Split":
                return str(self.resolve(arg[1])).split(arg[0])
            if key == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not NO_VALUE]
        if isinstance(value, dict):
            return {k: item for k, item in ((k, self.resolve(v)) for k, v in value.items()) if item is not NO_VALUE}
        return value

    def condition(self, name: str) -> bool:
        """A named condition of the template, evaluated against the parameters."""
        conditions: dict[str, Any] = self.data.get("Conditions") or {}
        if name not in conditions:
            raise KeyError(f"template has no condition named {name}")
        return self._truth(conditions[name])

    def _truth(self, expression: Any) -> bool:
        ((key, arg),) = expression.items()
        if key == "Condition":
            return self.condition(str(arg))
        if key == "Fn::Equals":
            return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
        if key == "Fn::Not":
            return not self._truth(arg[0])
        if key == "Fn::And":
            return all(self._truth(a) for a in arg)
        if key == "Fn::Or":
            return any(self._truth(a) for a in arg)
        raise ValueError(f"the local runtime cannot evaluate the condition function {key}")

    def _ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": "us-east-1",
            "AWS::AccountId": "123456789012",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "clawline-local",
            "AWS::StackId": f"arn:aws:cloudformation:us-east-1:123456789012:stack/clawline-local/{LOCAL_STACK_UUID}",
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.refs:
            return self.refs[name]
        if name in self.parameters:
            spec = (self.data.get("Parameters") or {}).get(name) or {}
            if spec.get("Type") == "CommaDelimitedList":
                return [item.strip() for item in self.parameters[name].split(",")]
            return self.parameters[name]
        if name in pseudo:
            return pseudo[name]
        resource = self.resources.get(name)
        if resource is not None:
            props = resource.get("Properties", {})
            for key in ("TableName", "QueueName", "FunctionName", "Name"):
                if key in props:
                    return str(self.resolve(props[key]))
            return name
        raise KeyError(f"template has no parameter or resource named {name}")

    def table_definitions(self) -> dict[str, dict[str, Any]]:
        """``create_table`` arguments for each DynamoDB table, by logical id, plus its TTL attribute."""
        tables: dict[str, dict[str, Any]] = {}
        for logical_id, res in self.of_type("AWS::DynamoDB::Table").items():
            props = self.resolve(res["Properties"])
            spec: dict[str, Any] = {
                "TableName": props["TableName"],
                "AttributeDefinitions": props["AttributeDefinitions"],
                "KeySchema": props["KeySchema"],
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            if props.get("GlobalSecondaryIndexes"):
                spec["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
            ttl = props.get("TimeToLiveSpecification") or {}
            tables[logical_id] = {
                "create": spec,
                "ttl_attribute": ttl.get("AttributeName") if ttl.get("Enabled") else None,
            }
        return tables


def create_tables(dynamodb: Any, template: Template, *, suffix: str = "") -> dict[str, str]:
    """Create every table of the template (names optionally suffixed for isolation); returns logical id -> name."""
    names: dict[str, str] = {}
    for logical_id, table in template.table_definitions().items():
        spec = dict(table["create"])
        spec["TableName"] = spec["TableName"] + suffix
        dynamodb.create_table(**spec)
        if table["ttl_attribute"]:
            dynamodb.update_time_to_live(
                TableName=spec["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table["ttl_attribute"]},
            )
        names[logical_id] = spec["TableName"]
    return names


def create_buckets(s3: Any, template: Template, *, suffix: str = "") -> dict[str, str]:
    """Create every S3 bucket of the template (CloudFormation names them; here ``clawline-local-<logical id>``,
    optionally suffixed); returns logical id -> name."""
    names: dict[str, str] = {}
    for logical_id in template.of_type("AWS::S3::Bucket"):
        name = f"clawline-local-{logical_id.lower()}{suffix}"
        s3.create_bucket(Bucket=name)
        names[logical_id] = name
    return names


# ---------------------------------------------------------------------------------------------------------------
# What the local runtime needs from the template: functions, routes, the authorizers, the WebSocket stage and the
# IoT rule. Each reader returns plain dataclasses so the gateway never walks the YAML itself.


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    code_uri: Path
    handler: str
    timeout_seconds: float
    memory_mb: int
    environment: dict[str, str]
    runtime: str = "python3.13"
    max_retry_attempts: int = 2
    max_event_age_seconds: int = 21600
    on_failure_queue: str | None = None  # logical id of the SQS OnFailure destination

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.name}"


@dataclass(frozen=True)
class HttpRoute:
    method: str  # GET, POST, ... or ANY
    path: str  # /v1/conversations/{conversation_id}
    function: str  # logical id
    authorizer: str | None  # None: no authorizer on this route

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class HttpAuthorizer:
    function: str
    identity_headers: tuple[str, ...]
    #: ``Identity.QueryStrings``: query parameters that are identity sources too (and part of the cache key).
    identity_query: tuple[str, ...] = ()
    cache_seconds: int = 300
    simple_responses: bool = True


@dataclass(frozen=True)
class HttpApiSpec:
    stage: str
    routes: list[HttpRoute]
    authorizer: HttpAuthorizer | None
    cors_origins: tuple[str, ...]
    cors_methods: tuple[str, ...]
    cors_headers: tuple[str, ...]
    cors_max_age: int


@dataclass(frozen=True)
class WebSocketApiSpec:
    stage: str
    route_selection: str  # $request.body.action
    routes: dict[str, str]  # route key -> function logical id
    connect_authorizer: str | None  # function logical id of the REQUEST authorizer on $connect
    #: The authorizer's ``IdentitySource`` (``route.request.querystring.token``...): a $connect missing one is 401.
    connect_identity: tuple[str, ...] = ()


@dataclass(frozen=True)
class TopicRuleSpec:
    name: str
    sql: str
    function: str  # logical id of the Lambda action
    error_queue: str | None  # logical id of the errorAction SQS queue


def _function_logical_id(value: Any) -> str:
    """The function a GetAtt/Sub/Ref points at (``!GetAtt Fn.Arn``, ``...${Fn.Arn}/invocations``, ``!Ref Fn``), or
    its published alias (``!Ref Fn.Alias``, ``${Fn.Alias}``: what the APIs and the IoT rule invoke)."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
        if "Ref" in value:
            return str(value["Ref"]).removesuffix(".Alias")
        if "Fn::Sub" in value:
            arg = value["Fn::Sub"]
            text = arg if isinstance(arg, str) else arg[0]
            match = re.search(r"\$\{(\w+)\.(?:Arn|Alias)\}", text)
            if match:
                return match.group(1)
            if not isinstance(arg, str):  # !Sub ["...${Fn}/invocations", {Fn: !Ref Function.Alias}]
                for name, variable in arg[1].items():
                    if f"${{{name}}}" in text:
                        return _function_logical_id(variable)
    raise ValueError(f"cannot tell which function {value!r} points at")


def functions(template: Template, root: Path = ROOT) -> dict[str, FunctionSpec]:
    """Every ``AWS::Serverless::Function`` with the Globals applied, environment resolved to strings."""
    glob = (template.data.get("Globals") or {}).get("Function") or {}
    glob_env = ((glob.get("Environment") or {}).get("Variables")) or {}
    out: dict[str, FunctionSpec] = {}
    for logical_id, res in template.of_type("AWS::Serverless::Function").items():
        props = res.get("Properties") or {}
        env_raw = {**glob_env, **(((props.get("Environment") or {}).get("Variables")) or {})}
        env = {k: str(template.resolve(v)) for k, v in env_raw.items()}
        invoke = props.get("EventInvokeConfig") or {}
        on_failure = ((invoke.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        out[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=str(template.resolve(props.get("FunctionName", logical_id))),
            code_uri=root / str(props["CodeUri"]),
            handler=str(props["Handler"]),
            timeout_seconds=float(template.resolve(props.get("Timeout", glob.get("Timeout", 3)))),
            memory_mb=int(template.resolve(props.get("MemorySize", glob.get("MemorySize", 128)))),
            environment=env,
            runtime=str(template.resolve(props.get("Runtime", glob.get("Runtime", "python3.13")))),
            max_retry_attempts=int(invoke.get("MaximumRetryAttempts", 2)),
            max_event_age_seconds=int(invoke.get("MaximumEventAgeInSeconds", 21600)),
            on_failure_queue=_function_logical_id(on_failure) if on_failure else None,
        )
    return out


def http_api(template: Template) -> HttpApiSpec:
    """The (single) ``AWS::Serverless::HttpApi``: its stage, routes (from function events) and authorizer."""
    ((api_id, api),) = template.of_type("AWS::Serverless::HttpApi").items()
    props = api.get("Properties") or {}
    auth = props.get("Auth") or {}
    default_auth = auth.get("DefaultAuthorizer")
    authorizers = auth.get("Authorizers") or {}
    authorizer: HttpAuthorizer | None = None
    if default_auth:
        spec = authorizers[default_auth]
        identity = spec.get("Identity") or {}
        authorizer = HttpAuthorizer(
            function=_function_logical_id(spec["FunctionArn"]),
            identity_headers=tuple(identity.get("Headers") or ()),
            identity_query=tuple(identity.get("QueryStrings") or ()),
            cache_seconds=int(identity.get("ReauthorizeEvery", 300)),
            simple_responses=bool(spec.get("EnableSimpleResponses", False)),
        )
    routes: list[HttpRoute] = []
    for logical_id, res in template.of_type("AWS::Serverless::Function").items():
        for event in ((res.get("Properties") or {}).get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            ev = event.get("Properties") or {}
            if ev.get("ApiId") and template.resolve(ev["ApiId"]) != template.resolve({"Ref": api_id}):
                continue
            route_auth = (ev.get("Auth") or {}).get("Authorizer", default_auth)
            routes.append(
                HttpRoute(
                    method=str(ev.get("Method", "ANY")).upper(),
                    path=str(ev.get("Path", "$default")),
                    function=logical_id,
                    authorizer=None if route_auth in (None, "NONE") else str(route_auth),
                )
            )
    cors = props.get("CorsConfiguration") or {}
    origins = template.resolve(cors.get("AllowOrigins") or [])
    return HttpApiSpec(
        stage=str(template.resolve(props.get("StageName", "$default"))),
        routes=routes,
        authorizer=authorizer,
        cors_origins=tuple(str(o) for o in (origins if isinstance(origins, list) else str(origins).split(","))),
        cors_methods=tuple(str(m) for m in cors.get("AllowMethods") or ()),
        cors_headers=tuple(str(h) for h in cors.get("AllowHeaders") or ()),
        cors_max_age=int(cors.get("MaxAge", 0)),
    )


def websocket_api(template: Template) -> WebSocketApiSpec:
    """The WebSocket ``AWS::ApiGatewayV2::Api``: its stage, routes -> functions and the $connect authorizer."""
    ((api_id, api),) = (
        (k, v)
        for k, v in template.of_type("AWS::ApiGatewayV2::Api").items()
        if (v.get("Properties") or {}).get("ProtocolType") == "WEBSOCKET"
    )
    integrations = {
        k: _function_logical_id((v.get("Properties") or {})["IntegrationUri"])
        for k, v in template.of_type("AWS::ApiGatewayV2::Integration").items()
    }
    authorizers = {
        k: _function_logical_id((v.get("Properties") or {})["AuthorizerUri"])
        for k, v in template.of_type("AWS::ApiGatewayV2::Authorizer").items()
    }
    identities = {
        k: tuple(str(source) for source in (v.get("Properties") or {}).get("IdentitySource") or ())
        for k, v in template.of_type("AWS::ApiGatewayV2::Authorizer").items()
    }
    routes: dict[str, str] = {}
    connect_authorizer: str | None = None
    connect_identity: tuple[str, ...] = ()
    for res in template.of_type("AWS::ApiGatewayV2::Route").values():
        props = res.get("Properties") or {}
        if (props.get("ApiId") or {}).get("Ref") != api_id:
            continue
        target = str(template.resolve(props.get("Target", "")))
        integration = target.split("/", 1)[1] if target.startswith("integrations/") else target
        if integration in integrations:
            routes[str(props["RouteKey"])] = integrations[integration]
        if props.get("RouteKey") == "$connect" and props.get("AuthorizationType") == "CUSTOM":
            connect_authorizer = authorizers[(props.get("AuthorizerId") or {})["Ref"]]
            connect_identity = identities[(props.get("AuthorizerId") or {})["Ref"]]
    stages = [
        v
        for v in template.of_type("AWS::ApiGatewayV2::Stage").values()
        if ((v.get("Properties") or {}).get("ApiId") or {}).get("Ref") == api_id
    ]
    stage = str(template.resolve(stages[0]["Properties"]["StageName"])) if stages else "$default"
    return WebSocketApiSpec(
        stage=stage,
        route_selection=str((api.get("Properties") or {}).get("RouteSelectionExpression", "$request.body.action")),
        routes=routes,
        connect_authorizer=connect_authorizer,
        connect_identity=connect_identity,
    )


def topic_rules(template: Template) -> list[TopicRuleSpec]:
    """Every enabled ``AWS::IoT::TopicRule`` with a Lambda action."""
    rules: list[TopicRuleSpec] = []
    for logical_id, res in template.of_type("AWS::IoT::TopicRule").items():
        props = res.get("Properties") or {}
        payload = props.get("TopicRulePayload") or {}
        if payload.get("RuleDisabled"):
            continue
        lambdas = [a["Lambda"] for a in payload.get("Actions") or [] if "Lambda" in a]
        if not lambdas:
            continue
        error_queue = ((payload.get("ErrorAction") or {}).get("Sqs") or {}).get("QueueUrl")
        rules.append(
            TopicRuleSpec(
                name=str(template.resolve(props.get("RuleName", logical_id))),
                sql=" ".join(str(payload["Sql"]).split()),
                function=_function_logical_id(lambdas[0]["FunctionArn"]),
                error_queue=str(error_queue["Ref"]) if isinstance(error_queue, dict) and "Ref" in error_queue else None,
            )
        )
    return rules


def queues(template: Template) -> dict[str, str]:
    """SQS queues: logical id -> queue name."""
    return {
        k: str(template.resolve((v.get("Properties") or {}).get("QueueName", k)))
        for k, v in template.of_type("AWS::SQS::Queue").items()
    }
