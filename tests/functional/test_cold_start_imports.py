"""Architecture: what a cold start imports. Each check runs in a fresh interpreter (this test process has long
imported everything), as Lambda runs it: the handler module imported, then invoked once against the moto stack.

- The WebSocket, MQTT and authorizer functions never import FastAPI (or Starlette): it is the HTTP function's
  framework and costs about a second of import. The WebSocket and MQTT functions never import PyJWT either (with
  cryptography's X.509 and key loading, 60 ms): only the authorizer verifies tokens.
- A turn the rules answer (the default bot's MQTT ``ping``) never imports numpy: the NLU is built on the first
  turn that needs a classification. The next turn, which classifies, builds it from the bot's trained artifact and
  does not import numpy either (``clawline.nlu.linear_runtime``); a bot whose artifact is stale is trained at cold
  start, which does import numpy (so the check can fail).
- A turn stored under the KMS envelope imports cryptography's AES-GCM only: Fernet and HKDF (the ``fernet``
  cipher's) load with that cipher alone, and boto3 never loads (every client comes from botocore's one session).
- A turn that calls no plugin never imports asyncio (about 40 ms with ssl, socket and subprocess): the turn is
  driven without an event loop (``clawline.event_loop``). The first turn that calls one (the default bot's
  ``cancel_order`` rule runs the sample plugin) does import it.
- numpy, when training at cold start imports it, runs one OpenBLAS thread (``clawline.nlu.lazy.single_blas_thread``).
- In a Lambda environment the cyclic garbage collector is off from the engine's import to the end of the first
  invocation, then on again with the cold start's objects frozen (``clawline.gc_pause``); elsewhere it stays on.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clawline import composition
from clawline.conversation import Turn
from clawline.messages import Channel
from tests.functional.conftest import Stack
from tests.helpers.aws import client

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, os, sys
import {module} as handler_module

class Context:
    function_name = "clawline-{module}"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:clawline-{module}"
    memory_limit_in_mb = 512
    aws_request_id = "cold-start-imports"
    def get_remaining_time_in_millis(self):
        return 10000

CRYPTO = "cryptography.hazmat.primitives."
WATCHED = ("fastapi", "starlette", "numpy", "jwt", "boto3")
WATCHED += ("cryptography.fernet", CRYPTO + "kdf.hkdf", CRYPTO + "ciphers.aead", "asyncio")


def built_models():
    # The engine's pydantic models whose validator is built (a deferred one holds a MockValSer until first use).
    if "pydantic" not in sys.modules:
        return []
    from pydantic import BaseModel
    from pydantic._internal._mock_val_ser import MockValSer

    found, todo = set(), [BaseModel]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            validator = sub.__dict__.get("__pydantic_validator__")
            deferred = validator is None or isinstance(validator, MockValSer)
            if sub.__module__.startswith("clawline.") and not deferred:
                found.add(sub.__module__ + "." + sub.__qualname__)
    return sorted(found)


report = {{"after_import": sorted(m for m in WATCHED if m in sys.modules), "built_after_import": built_models(),
           "turns": [], "gc_on": gc.isenabled()}}
for event in json.loads(sys.stdin.read()):
    try:
        result = handler_module.handler(event, Context())
    except Exception as exc:  # the authorizer refuses a request without a token by raising, as API Gateway expects
        result = {{"raised": type(exc).__name__}}
    gc_state = {{"gc_on": gc.isenabled(), "gc_frozen": gc.get_freeze_count()}}
    loader = sys.modules.get("pydantic.plugin._loader")  # its plugin table stays None until it scans entry points
    report["turns"].append({{"result": result, **{{m: m in sys.modules for m in WATCHED}}, "built": built_models(),
                            "plugin_scan": loader is not None and loader._plugins is not None, **gc_state}})
report["blas_threads"] = os.environ.get("OPENBLAS_NUM_THREADS")
print(json.dumps(report, default=str))
"""


def run_cold(
    folder: str,
    module: str,
    events: list[dict[str, Any]],
    extra_env: dict[str, str] | None = None,
    probe: str = PROBE,
) -> dict[str, Any]:
    """Import ``module`` from ``functions/<folder>`` in a fresh interpreter, run ``probe`` (``events`` on stdin) and
    return the JSON report on its last line."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "PYDANTIC_DISABLE_PLUGINS")},
        "PYTHONPATH": os.pathsep.join([str(ROOT / "functions" / folder), str(ROOT / "layers" / "engine"), str(ROOT)]),
        "CLAWLINE_BOT_PATH": str(ROOT / "bots" / "default"),
        "POWERTOOLS_TRACE_DISABLED": "true",
        **(extra_env or {}),
    }
    done = subprocess.run(
        [sys.executable, "-c", probe.format(module=module)],
        input=json.dumps(events),
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def mqtt_event(thing: str, text: str, message_id: str) -> dict[str, Any]:
    payload = json.dumps({"text": text, "message_id": message_id}).encode()
    return {"payload": base64.b64encode(payload).decode(), "thing": thing, "client_id": thing, "received_at": 0}


def websocket_events(text: str) -> list[dict[str, Any]]:
    """$connect (as the authorizer leaves it), then a message on $default: a whole turn."""
    context = {"connectionId": "c-arch", "stage": "dev", "domainName": "ws.example", "authorizer": {"sub": "u-arch"}}
    connect = {"requestContext": {**context, "routeKey": "$connect"}}
    body = json.dumps({"action": "message", "text": text, "message_id": "ws-arch-1"})
    message = {"requestContext": {**context, "routeKey": "$default", "messageId": "m-arch"}, "body": body}
    return [connect, message]


@pytest.mark.parametrize(
    ("folder", "module", "events", "tokens"),
    [
        ("websocket", "websocket_handler", websocket_events("hello there"), False),
        ("mqtt", "mqtt_handler", [mqtt_event("arch-thing", "ping", "arch-1")], False),
        ("authorizer", "authorizer", [{"version": "2.0", "headers": {}}], True),
    ],
)
def test_websocket_mqtt_and_authorizer_never_import_fastapi_and_only_the_authorizer_imports_pyjwt(
    stack: Stack, folder: str, module: str, events: list[dict[str, Any]], tokens: bool
) -> None:
    report = run_cold(folder, module, events)
    assert report["after_import"] == (["jwt"] if tokens else [])
    assert [turn["fastapi"] for turn in report["turns"]] == [False] * len(events)
    assert [turn["jwt"] for turn in report["turns"]] == [tokens] * len(events)
    if folder == "websocket":  # the message was answered, not refused: the check covers a real turn
        assert [frame["type"] for frame in stack.recorder.frames("c-arch")] == ["reply"]


def test_neither_a_turn_the_rules_answer_nor_one_the_trained_model_classifies_imports_numpy(stack: Stack) -> None:
    report = run_cold(
        "mqtt",
        "mqtt_handler",
        [
            mqtt_event("arch-thing", "ping", "arch-ping-1"),
            mqtt_event("arch-thing", "i would like to order a pizza", "arch-nlu-1"),
        ],
    )
    rules_turn, nlu_turn = report["turns"]
    assert rules_turn["result"] == {"status": "replied", "message_id": "arch-ping-1"}
    assert nlu_turn["result"] == {"status": "replied", "message_id": "arch-nlu-1"}
    assert (rules_turn["numpy"], nlu_turn["numpy"]) == (False, False)
    assert (rules_turn["asyncio"], nlu_turn["asyncio"]) == (False, False)  # neither calls a plugin
    published = [json.loads(body) for _topic, body in stack.recorder.publishes]
    assert published[0]["messages"][0]["text"] == "pong"  # the rule answered the first turn
    assert published[1]["intent"] == "order_pizza"  # the model classified the second: the check covers a parse


def test_a_bot_whose_model_is_stale_is_trained_at_cold_start_with_numpy_on_one_blas_thread(
    stack: Stack, tmp_path: Path
) -> None:
    bot = tmp_path / "default"
    shutil.copytree(ROOT / "bots" / "default", bot)
    nlu = bot / "nlu.yaml"
    nlu.write_text(nlu.read_text(encoding="utf-8").replace("- pizza please", "- pizza please now"), encoding="utf-8")
    report = run_cold(
        "mqtt",
        "mqtt_handler",
        [mqtt_event("arch-stale", "i would like to order a pizza", "arch-stale-1")],
        {"CLAWLINE_BOT_PATH": str(bot)},
    )
    (turn,) = report["turns"]
    assert turn["result"] == {"status": "replied", "message_id": "arch-stale-1"}
    assert turn["numpy"] is True  # trained now: numpy, first imported with one OpenBLAS thread
    assert report["blas_threads"] == "1"


def test_a_kms_encrypted_turn_loads_aes_gcm_but_neither_fernet_nor_boto3(stack: Stack) -> None:
    key = client("kms", stack.endpoint).create_key(Description="cold-start-imports")["KeyMetadata"]["Arn"]
    kms = {"CLAWLINE_ENCRYPTION": "kms", "CLAWLINE_KMS_KEY_ARN": key, "AWS_ENDPOINT_URL_KMS": stack.endpoint}
    report = run_cold("mqtt", "mqtt_handler", [mqtt_event("arch-kms", "ping", "arch-kms-1")], kms)
    (turn,) = report["turns"]
    assert turn["result"] == {"status": "replied", "message_id": "arch-kms-1"}
    assert turn["cryptography.hazmat.primitives.ciphers.aead"] is True  # the turn was sealed: the check can fail
    fernet = ("cryptography.fernet", "cryptography.hazmat.primitives.kdf.hkdf", "boto3")
    assert [name for name in fernet if turn[name]] == []
    # And what was stored is the envelope, not the text.
    items = client("dynamodb", stack.endpoint).scan(TableName=stack.tables["StateTable"])["Items"]
    assert any("B" in value for item in items for value in item.values())  # sealed fields are binary
    assert not [item for item in items if "pong" in repr(item)]


def test_asyncio_is_imported_only_by_the_first_turn_that_calls_a_plugin(stack: Stack) -> None:
    # The default bot's cancel_order rule asks the sample plugin (a confidence gate) before it answers.
    report = run_cold(
        "mqtt",
        "mqtt_handler",
        [
            mqtt_event("arch-plugin", "hello there", "arch-p-1"),
            mqtt_event("arch-plugin", "cancel my order", "arch-p-2"),
        ],
    )
    assert report["after_import"] == []
    greeting, cancel = report["turns"]
    assert greeting["result"]["status"] == cancel["result"]["status"] == "replied"
    assert (greeting["asyncio"], cancel["asyncio"]) == (False, True)
    replies = [json.loads(body) for _topic, body in stack.recorder.publishes]
    assert replies[-1]["intent"] == "cancel_order"  # the rule that calls the plugin answered


def test_the_reminder_function_delivers_without_fastapi_or_numpy(stack: Stack) -> None:
    # It runs no turn: no web framework, no NLU, whatever the bot is.
    event = json.loads((ROOT / "events" / "reminder" / "due_http.json").read_text(encoding="utf-8"))
    # The turn that set the reminder (in this process: the cold one only delivers).
    store = composition.conversation_store()
    store.save(
        store.load(event["conversation_id"], event["owner"]),
        Turn(seq=0, message_id="m-0", channel=Channel.HTTP, user_text="remind me"),
    )
    report = run_cold("reminder", "reminder_handler", [event])
    assert report["after_import"] == []
    (turn,) = report["turns"]
    assert turn["result"]["status"] == "delivered"
    assert (turn["fastapi"], turn["numpy"]) == (False, False)


def test_the_garbage_collector_is_off_for_the_cold_start_in_lambda_and_on_again_after_the_first_turn(
    stack: Stack,
) -> None:
    events = [mqtt_event("arch-gc", "ping", "arch-gc-1"), mqtt_event("arch-gc", "ping", "arch-gc-2")]
    report = run_cold("mqtt", "mqtt_handler", events, {"AWS_LAMBDA_FUNCTION_NAME": "clawline-mqtt"})
    assert report["gc_on"] is False  # the handler's import ran without collections
    first, second = report["turns"]
    assert [first["result"]["status"], second["result"]["status"]] == ["replied", "replied"]
    assert first["gc_on"] is True and first["gc_frozen"] > 0  # on again, the cold start's objects frozen
    # A warm turn freezes nothing more (frozen objects can still be freed by their reference counts).
    assert second["gc_frozen"] <= first["gc_frozen"]
    # Outside Lambda (the same handler, no AWS_LAMBDA_FUNCTION_NAME) nothing changes.
    outside = run_cold("mqtt", "mqtt_handler", [mqtt_event("arch-gc", "ping", "arch-gc-3")])
    assert outside["gc_on"] is True and outside["turns"][0]["gc_frozen"] == 0


@pytest.mark.parametrize(
    ("folder", "module", "events"),
    [
        ("http", "http_app", [json.loads((ROOT / "events" / "http" / "health.json").read_text(encoding="utf-8"))]),
        ("websocket", "websocket_handler", websocket_events("hello there")[:1]),
        ("authorizer", "authorizer", [{"version": "2.0", "headers": {}}]),  # refused (no token): raises
    ],
)
def test_every_function_turns_the_collector_back_on_after_its_first_invocation(
    stack: Stack, folder: str, module: str, events: list[dict[str, Any]]
) -> None:
    report = run_cold(folder, module, events, {"AWS_LAMBDA_FUNCTION_NAME": f"clawline-{folder}"})
    assert report["gc_on"] is False
    (first,) = report["turns"]
    assert first["gc_on"] is True and first["gc_frozen"] > 0, first["result"]


#: The models a rules turn validates with: the IoT rule's event, the payload, the function's settings, and what the
#: turn carries (the message, the conversation and its turn, the reply). Nested ones (an attachment, an outbound
#: message) are built inside these.
RULES_TURN_MODELS = [
    "clawline.channels.mqtt.IotRuleEvent",
    "clawline.channels.payloads.MessagePayload",
    "clawline.conversation.ConversationState",
    "clawline.conversation.Turn",
    "clawline.messages.InboundMessage",
    "clawline.messages.Reply",
    "clawline.settings.Settings",
]


@pytest.fixture(scope="module")
def prebuilt_bot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default bot as the bot layer ships it: with its prebuilt definition (``clawline package``)."""
    from clawline.bot import prebuilt

    bot = tmp_path_factory.mktemp("layer") / "default"
    shutil.copytree(ROOT / "bots" / "default", bot, ignore=shutil.ignore_patterns(".prebuilt", "__pycache__"))
    prebuilt.write(bot)
    return bot


def test_no_validator_is_built_at_import_and_a_rules_turn_builds_only_those_it_validates_with(
    stack: Stack, prebuilt_bot: Path
) -> None:
    # Every engine model defers its build: the bot's definition (loaded prebuilt: never validated at a cold start),
    # the plugins' manifests, the attachment and upload models, the NLU's result are never built by this turn.
    for folder, module in [("websocket", "websocket_handler"), ("authorizer", "authorizer")]:
        assert run_cold(folder, module, [])["built_after_import"] == [], module
    layer = {"CLAWLINE_BOT_PATH": str(prebuilt_bot)}
    report = run_cold("mqtt", "mqtt_handler", [mqtt_event("arch-built", "ping", "arch-built-1")], layer)
    assert report["built_after_import"] == []
    (turn,) = report["turns"]
    assert turn["result"] == {"status": "replied", "message_id": "arch-built-1"}
    assert turn["built"] == RULES_TURN_MODELS


def test_with_pydantic_plugins_disabled_as_deployed_no_entry_points_are_scanned(stack: Stack) -> None:
    from local.template import Template

    variables = Template.read(ROOT / "template.yaml").data["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["PYDANTIC_DISABLE_PLUGINS"] == "__all__"
    disabled = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}
    report = run_cold("mqtt", "mqtt_handler", [mqtt_event("arch-meta", "ping", "arch-meta-1")], disabled)
    (turn,) = report["turns"]
    assert turn["result"] == {"status": "replied", "message_id": "arch-meta-1"}
    assert turn["plugin_scan"] is False
    # Without the variable pydantic reads every installed distribution's entry points (so the check can fail).
    (unset,) = run_cold("mqtt", "mqtt_handler", [mqtt_event("arch-meta", "ping", "arch-meta-2")])["turns"]
    assert unset["plugin_scan"] is True


#: Records, the moment each framework is first imported, whether the garbage collector was on. clawline.gc_pause turns
#: it off when the engine's package is imported (in Lambda); a handler importing botocore, Powertools, pydantic or
#: FastAPI before ``clawline`` would pay their collections (their class building allocates the most).
GC_ORDER_PROBE = """
import gc, importlib.abc, json, sys
WATCHED = ("botocore", "aws_lambda_powertools", "pydantic", "fastapi", "starlette", "mangum")
seen = {{}}
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in WATCHED and name not in seen:
            seen[name] = gc.isenabled()
        return None
sys.meta_path.insert(0, Watch())
import {module}
print(json.dumps(seen))
"""


@pytest.mark.parametrize(
    ("folder", "module"),
    [("http", "http_app"), ("websocket", "websocket_handler"), ("mqtt", "mqtt_handler")],
)
def test_the_collector_is_off_before_any_framework_is_imported(folder: str, module: str) -> None:
    seen = run_cold(folder, module, [], {"AWS_LAMBDA_FUNCTION_NAME": f"clawline-{folder}"}, probe=GC_ORDER_PROBE)
    assert "botocore" in seen and "aws_lambda_powertools" in seen  # every message function imports both
    assert not any(seen.values()), f"imported with the collector on: {[name for name, on in seen.items() if on]}"


#: What FastAPI's import leaves behind (late_openapi_models): the default config every model starts from, which models
#: hold their validator unbuilt after the import and after a first turn, and the OpenAPI document as served.
LATE_MODELS_PROBE = """
import json, sys
{eager}
import http_app
import fastapi.openapi.models
from pydantic import BaseModel
from tests.helpers.lambda_context import lambda_context
from pydantic._internal._mock_val_ser import MockValSer


def unbuilt(model):
    return isinstance(model.__dict__.get("__pydantic_validator__"), MockValSer)


class DeclaredAfterwards(BaseModel):
    n: int


OPENAPI_MODELS = (fastapi.openapi.models.OpenAPI, fastapi.openapi.models.PathItem, fastapi.openapi.models.Components)
report = {{
    "default": dict(BaseModel.model_config),
    "unbuilt_after_import": [m.__name__ for m in (DeclaredAfterwards, *OPENAPI_MODELS) if unbuilt(m)],
}}
(event,) = json.loads(sys.stdin.read())
report["status"] = http_app.handler(event, lambda_context("clawline-http"))["statusCode"]
report["unbuilt_after_turn"] = [m.__name__ for m in OPENAPI_MODELS if unbuilt(m)]
report["document"] = json.dumps(http_app.app.openapi())  # the key order as served, not sorted
print(json.dumps(report))
"""


def test_fastapi_leaves_its_openapi_models_unbuilt_and_every_other_model_and_the_document_as_they_were(
    stack: Stack,
) -> None:
    first_turn = [json.loads((ROOT / "events" / "http" / "post_message.json").read_text(encoding="utf-8"))]
    same_order = {"PYTHONHASHSEED": "0"}  # the document lists a route's methods in a set's order
    late = run_cold("http", "http_app", first_turn, same_order, probe=LATE_MODELS_PROBE.replace("{eager}", ""))
    assert late["status"] == 200
    # The default every model starts from is pydantic's own again once FastAPI is imported, so a model declared
    # afterwards is built when declared, as before; FastAPI's OpenAPI models are not, and a first turn does not
    # build them.
    assert late["default"] == {}
    assert late["unbuilt_after_import"] == ["OpenAPI", "PathItem", "Components"]
    assert late["unbuilt_after_turn"] == ["OpenAPI", "PathItem", "Components"]
    # FastAPI imported first, before the handler could ask for anything: every model built when declared. The
    # document served is the same, byte for byte.
    eager_import = LATE_MODELS_PROBE.replace("{eager}", "import fastapi, fastapi.exceptions, fastapi.responses")
    eager = run_cold("http", "http_app", first_turn, same_order, probe=eager_import)
    assert eager["unbuilt_after_import"] == [] and eager["status"] == 200
    assert late["document"] == eager["document"]


ANYIO_PROBE = """
import json, sys
import http_app
from tests.helpers.lambda_context import lambda_context

(event,) = json.loads(sys.stdin.read())
status = http_app.handler(event, lambda_context("clawline-http"))["statusCode"]
print(json.dumps({{"status": status, "anyio_backend": "anyio._backends._asyncio" in sys.modules}}))
"""


def test_the_http_functions_first_message_turn_runs_its_blocking_calls_without_anyios_backend(stack: Stack) -> None:
    # The turn runs in a worker thread by asyncio's own helper (http_app.post_message); anyio's asyncio backend,
    # which Starlette's thread helper loads on its first call, would cost 10-18 ms of the cold start.
    first_turn = [json.loads((ROOT / "events" / "http" / "post_message.json").read_text(encoding="utf-8"))]
    report = run_cold("http", "http_app", first_turn, probe=ANYIO_PROBE)
    assert report == {"status": 200, "anyio_backend": False}


#: Lists the engine's dataclasses defined once the handler answered its events: each one compiled its generated
#: methods from source when its module was imported (about half a millisecond of every cold start apiece), which
#: is why the engine's immutable records are named tuples (docs/architecture.md, "Records").
DATACLASS_PROBE = """
import dataclasses, json, sys
import {module} as handler_module

class Context:
    function_name = "clawline-{module}"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:clawline-{module}"
    memory_limit_in_mb = 512
    aws_request_id = "cold-start-dataclasses"
    def get_remaining_time_in_millis(self):
        return 10000

for event in json.loads(sys.stdin.read()):
    handler_module.handler(event, Context())
found = set()
for name, module in list(sys.modules.items()):
    if name.startswith("clawline."):
        for value in list(vars(module).values()):
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == name:
                found.add(name + "." + value.__qualname__)
print(json.dumps(sorted(found)))
"""

#: What a cold turn still defines as dataclasses, and why each is not a named tuple: mutable (``SourceMap``,
#: ``OwnerRecord``, the rate limiter's lease), identity equality (``CompiledRule``), the plugin API
#: (``TurnContext``, ``PluginResult``, ``HttpResponse``: plugins ``dataclasses.replace`` them), and the NLU's recipe
#: and feature configs (``LinearRecipe`` has factory defaults; the three are kept as they are).
COLD_DATACLASSES = {
    "clawline.bot.problems.SourceMap",
    "clawline.plugins.base.PluginResult",
    "clawline.plugins.base.TurnContext",
    "clawline.plugins.services.HttpResponse",
    "clawline.ports.OwnerRecord",
    "clawline.rules.compiler.CompiledRule",
    "clawline.security.ratelimit._Lease",
}
NLU_DATACLASSES = {
    "clawline.nlu.ngrams.FeatureConfig",
    "clawline.nlu.recipe.LinearRecipe",
    "clawline.nlu.recipe.SparseTrainConfig",
}


@pytest.mark.parametrize(
    ("folder", "module", "events", "expected"),
    [
        ("websocket", "websocket_handler", websocket_events("hello there"), COLD_DATACLASSES | NLU_DATACLASSES),
        ("mqtt", "mqtt_handler", [mqtt_event("arch-records", "ping", "arch-records-1")], COLD_DATACLASSES),
    ],
)
def test_a_cold_turn_defines_only_the_dataclasses_that_cannot_be_named_tuples(
    stack: Stack, prebuilt_bot: Path, folder: str, module: str, events: list[dict[str, Any]], expected: set[str]
) -> None:
    layer = {"CLAWLINE_BOT_PATH": str(prebuilt_bot)}  # as deployed: the bot's YAML loader is never imported
    found = run_cold(folder, module, events, layer, probe=DATACLASS_PROBE)
    assert set(found) == expected
