"""S12: event parsers and the bot loader raise only their documented validation errors, on any bytes.

The hypothesis mirror of the atheris harnesses (`make fuzz`), bounded by the ``ci`` profile for `make test`.
Structured strategies sit next to raw bytes: random bytes rarely get past the JSON parser.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz import harness

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
payload_like = st.fixed_dictionaries(
    {},
    optional={
        "text": st.one_of(st.text(max_size=200), json_values),
        "message_id": st.one_of(st.text(max_size=140), json_values),
        "conversation_id": st.one_of(st.text(max_size=140), json_values),
        "metadata": st.one_of(st.dictionaries(st.text(max_size=70), json_values, max_size=40), json_values),
        "action": st.text(max_size=10),
        "device_id": st.text(max_size=10),
    },
).map(lambda d: json.dumps(d).encode())
fuzz_bytes = st.one_of(st.binary(max_size=2048), payload_like, json_values.map(lambda v: json.dumps(v).encode()))


@pytest.mark.parametrize("target", ["websocket_body", "iot_payload", "iot_event"])
@given(data=fuzz_bytes)
@example(data=b"[" * 100_000)
@example(data=b'{"text": "\\ud800", "message_id": "x"}')
@example(data=b"\xff\xfe\x00")
def test_s12_event_parsers_raise_only_validation_errors_on_arbitrary_bytes(target: str, data: bytes) -> None:
    harness.run(target, data)


@given(data=fuzz_bytes)
def test_s12_api_gateway_envelope_never_gives_a_server_error(data: bytes) -> None:
    harness.run("http_envelope", data)


yaml_like = st.one_of(
    st.binary(max_size=512),
    st.text(max_size=400).map(str.encode),
    st.dictionaries(
        st.sampled_from(
            ["name", "settings", "rules", "responses", "intents", "slots", "plugins", "include", "entities"]
        ),
        json_values,
        max_size=5,
    ).map(lambda d: json.dumps(d).encode()),
)


@given(data=yaml_like)
@example(data=b"a: &a [*a, *a, *a, *a, *a]")  # a YAML alias bomb
@example(data=b"!!python/object/apply:os.system ['echo pwned']")
@example(data=b"include: ['/etc/passwd', '../../**']")
def test_s12_bot_loader_raises_only_definition_errors(data: bytes) -> None:
    harness.run("bot_yaml", data)
