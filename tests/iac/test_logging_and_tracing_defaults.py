"""What a deploy with the template's defaults logs and traces per turn, checked on the translated template.

Every message is billed, and Lambda's own lines and X-Ray are billed per invocation: the defaults are chosen in
docs/observability.md ("What a turn logs and traces") and priced by ``python -m bench cost``. These are the
settings an operator would look up in the console: the log format and levels of each message function, and
whether X-Ray records anything.
"""

from __future__ import annotations

from typing import Any

import pytest

from local.template import Template

pytestmark = pytest.mark.iac

MESSAGE_FUNCTIONS = ("HttpFunction", "WebSocketFunction", "MqttFunction")
FUNCTIONS = (*MESSAGE_FUNCTIONS, "AuthorizerFunction")


def defaults(cfn: dict[str, Any]) -> dict[str, str]:
    return {name: str(spec.get("Default", "")) for name, spec in cfn["Parameters"].items()}


def test_message_functions_log_json_with_lambdas_start_and_report_lines_off_by_default(cfn: dict[str, Any]) -> None:
    params = defaults(cfn)
    assert params["FunctionSystemLogLevel"] == "WARN"
    assert cfn["Parameters"]["FunctionSystemLogLevel"]["AllowedValues"] == ["DEBUG", "INFO", "WARN"]
    for name in MESSAGE_FUNCTIONS:
        logging = cfn["Resources"][name]["Properties"]["LoggingConfig"]
        assert logging["LogFormat"] == "JSON", name  # level filtering needs the JSON format
        assert logging["SystemLogLevel"] == {"Ref": "FunctionSystemLogLevel"}, name
        assert logging["LogGroup"] == {"Ref": name.replace("Function", "FunctionLogs")}, name


def test_the_application_log_level_lets_the_emf_metrics_through(cfn: dict[str, Any]) -> None:
    """EMF documents carry no ``level``: Lambda files them as INFO, so a stricter application level (WARN, ERROR)
    would silently drop every metric the dashboard and alarms read. Powertools follows the same level."""
    for name in MESSAGE_FUNCTIONS:
        props = cfn["Resources"][name]["Properties"]
        assert props["LoggingConfig"]["ApplicationLogLevel"] == "INFO", name
        assert props["Environment"]["Variables"]["POWERTOOLS_LOG_LEVEL"] == "INFO", name


def test_tracing_is_off_by_default_and_one_parameter_turns_it_on_for_every_function(cfn: dict[str, Any]) -> None:
    params = defaults(cfn)
    assert params["FunctionTracing"] == "PassThrough"
    assert cfn["Parameters"]["FunctionTracing"]["AllowedValues"] == ["Active", "PassThrough"]
    for name in FUNCTIONS:
        assert cfn["Resources"][name]["Properties"]["TracingConfig"] == {"Mode": {"Ref": "FunctionTracing"}}, name


@pytest.mark.parametrize(("tracing", "sdk_disabled"), [("PassThrough", "true"), ("Active", "false")])
def test_an_untraced_function_never_loads_the_xray_sdk(tracing: str, sdk_disabled: str) -> None:
    """Powertools' Tracer is built only when tracing is on (clawline.observability.tracer): with PassThrough, the
    functions are told so and skip the X-Ray SDK's import at cold start."""
    template = Template.read(FunctionTracing=tracing)
    glob = template.data["Globals"]["Function"]
    assert template.resolve(glob["Tracing"]) == tracing
    variables = glob["Environment"]["Variables"]
    assert template.resolve(variables["POWERTOOLS_TRACE_DISABLED"]) == sdk_disabled
