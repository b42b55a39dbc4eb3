"""Least privilege on the translated template: KMS only with the whole encryption context, and DynamoDB actions
per function and table, derived from the calls the code makes (not SAM's CRUD policy, which adds Scan and
BatchGetItem).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.iac.test_translated_template import (
    as_list,
    function_role,
    referenced,
    role_statements,
)

pytestmark = pytest.mark.iac

ROOT = Path(__file__).resolve().parents[2]
CONTEXT_KEYS = ("tenant_id", "user_id", "conversation_id")
MESSAGE_FUNCTIONS = ("HttpFunction", "WebSocketFunction", "MqttFunction")


# ----- KMS ------------------------------------------------------------------------------------------------------


def condition_allows(condition: dict[str, Any], context: dict[str, str]) -> bool:
    """IAM's evaluation of the condition operators these statements use, for a request with ``context``."""
    for operator, tests in condition.items():
        for key, expected in tests.items():
            wanted = {str(v) for v in as_list(expected)}
            if key == "kms:EncryptionContextKeys":
                present: set[str] | None = set(context) if context else None  # no context: the key is absent
            elif key.startswith("kms:EncryptionContext:"):
                name = key.removeprefix("kms:EncryptionContext:")
                present = {context[name]} if name in context else None
            else:
                raise AssertionError(f"a condition key this evaluator does not know: {key}")
            if operator == "Null":
                if (present is None) != (wanted == {"true"}):
                    return False
            elif operator == "ForAllValues:StringEquals":
                if not (present or set()) <= wanted:  # vacuously true for a missing key: the reported hole
                    return False
            elif operator == "ForAnyValue:StringEquals":
                if not (present or set()) & wanted:
                    return False
            elif operator == "StringEquals":
                if present is None or not present <= wanted:
                    return False
            else:
                raise AssertionError(f"a condition operator this evaluator does not know: {operator}")
    return True


@pytest.mark.parametrize("function", [*MESSAGE_FUNCTIONS, "ReminderFunction"])
def test_kms_data_keys_are_granted_only_with_every_encryption_context_key(
    resources: dict[str, dict[str, Any]], function: str
) -> None:
    grants = [
        st
        for st in role_statements(resources, function_role(resources, function))
        if {"kms:GenerateDataKey", "kms:Decrypt"} & set(as_list(st["Action"]))
    ]
    assert grants, f"{function} gets no data keys"
    full = {"tenant_id": "pizza", "user_id": "alice", "conversation_id": "c1"}
    for st in grants:
        condition = st.get("Condition") or {}
        assert condition_allows(condition, full)
        assert not condition_allows(condition, {}), "a request without an encryption context is allowed"
        for missing in CONTEXT_KEYS:
            partial = {k: v for k, v in full.items() if k != missing}
            assert not condition_allows(condition, partial), f"allowed without {missing}"
        assert not condition_allows(condition, {**full, "extra": "x"}), "allowed with a key outside the context"


# ----- DynamoDB -------------------------------------------------------------------------------------------------

#: boto3 client method -> the IAM actions it needs (TransactWriteItems is authorized per item kind).
CALLS = {
    "get_item": {"dynamodb:GetItem"},
    "put_item": {"dynamodb:PutItem"},
    "update_item": {"dynamodb:UpdateItem"},
    "delete_item": {"dynamodb:DeleteItem"},
    "query": {"dynamodb:Query"},
    "batch_write_item": {"dynamodb:BatchWriteItem"},
}
TRANSACT_ITEMS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
#: Which modules talk to which table. A turn's idempotency lives in the state table's conditional PutItem
#: (docs/storage.md): there is no idempotency table. The owners' partitions (current conversation, index,
#: profile) and device pairings are in the state table too.
MODULES = {
    "StateTable": (
        "layers/engine/clawline/store/dynamodb.py",
        "layers/engine/clawline/store/owners.py",
        "layers/engine/clawline/store/pairings.py",
        "layers/engine/clawline/store/owner_data.py",
    ),
    "RateLimitTable": (
        "layers/engine/clawline/security/ratelimit.py",
        "layers/engine/clawline/security/ratelimit_records.py",
    ),
    "ConnectionsTable": ("layers/engine/clawline/channels/connections.py",),
}
#: Deleting a conversation (batch deletes), managing device pairings and data rights (export and erase a caller's
#: rate-limit bucket: clawline.security.ratelimit_records) are the HTTP API's routes alone.
HTTP_ONLY = {
    "StateTable": {"dynamodb:BatchWriteItem", "dynamodb:DeleteItem"},
    "RateLimitTable": {"dynamodb:GetItem", "dynamodb:DeleteItem"},
}
#: Data rights read and delete a caller's connection records (found on the by_principal index); only the WebSocket
#: function writes them.
HTTP_CONNECTIONS = {"dynamodb:Query", "dynamodb:GetItem", "dynamodb:DeleteItem"}
#: A thing's pairing is read (GetItem) by the MQTT function and managed by the HTTP one; WebSocket never reads it.
NOT_WEBSOCKET = {"StateTable": {"dynamodb:GetItem"}}
NEVER = {"dynamodb:Scan", "dynamodb:BatchGetItem", "dynamodb:*"}


def actions_called(paths: tuple[str, ...]) -> set[str]:
    actions: set[str] = set()
    for path in paths:
        actions |= _actions_in(path)
    return actions


def _actions_in(path: str) -> set[str]:
    source = (ROOT / path).read_text(encoding="utf-8")
    actions: set[str] = set()
    for method in re.findall(r"\.(\w+)\(|get_paginator\(\"(\w+)\"\)", source):
        actions |= CALLS.get(method[0] or method[1], set())
    if ".transact_write_items(" in source:
        actions |= {action for kind, action in TRANSACT_ITEMS.items() if f'"{kind}": {{' in source}
    return actions


def needed(function: str) -> dict[str, set[str]]:
    tables = {"StateTable", "RateLimitTable"} | ({"ConnectionsTable"} if function == "WebSocketFunction" else set())
    out = {table: actions_called(MODULES[table]) for table in tables}
    if function == "HttpFunction":
        out["ConnectionsTable"] = actions_called(MODULES["ConnectionsTable"]) & HTTP_CONNECTIONS
    if function != "HttpFunction":
        for table, actions in HTTP_ONLY.items():
            out[table] -= actions
    if function == "WebSocketFunction":
        for table, actions in NOT_WEBSOCKET.items():
            out[table] -= actions
    return out


def granted(resources: dict[str, dict[str, Any]], function: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    tables = {r for r, v in resources.items() if v["Type"] == "AWS::DynamoDB::Table"}
    for st in role_statements(resources, function_role(resources, function)):
        actions = {a for a in as_list(st["Action"]) if str(a).startswith("dynamodb:")}
        if not actions:
            continue
        for resource in as_list(st["Resource"]):
            for table in referenced(resource) & tables:
                out.setdefault(table, set()).update(actions)
    return out


#: The reminder function appends a turn (the state table's Query and conditional PutItem), finds the user's
#: connections on the by_principal index (Query) and forgets a gone one (DeleteItem); it never writes a connection.
REMINDER_NEEDS = {
    "StateTable": {"dynamodb:Query", "dynamodb:PutItem"},
    "ConnectionsTable": {"dynamodb:Query", "dynamodb:DeleteItem"},
}


def test_the_reminder_function_is_granted_only_what_delivering_a_reminder_calls(
    resources: dict[str, dict[str, Any]],
) -> None:
    assert REMINDER_NEEDS["StateTable"] <= actions_called(MODULES["StateTable"])
    assert REMINDER_NEEDS["ConnectionsTable"] <= actions_called(MODULES["ConnectionsTable"])
    assert granted(resources, "ReminderFunction") == REMINDER_NEEDS
    # The index for the look-up, the table for the delete: neither grant reaches the other.
    for st in role_statements(resources, function_role(resources, "ReminderFunction")):
        actions = set(as_list(st["Action"]))
        for resource in as_list(st["Resource"]):
            arn = str(resource.get("Fn::Sub", resource) if isinstance(resource, dict) else resource)
            if actions == {"dynamodb:Query"} and "ConnectionsTable" in referenced(resource):
                assert arn.endswith("/index/by_principal"), arn
            if "dynamodb:DeleteItem" in actions:
                assert "/index/" not in arn, arn


def test_the_http_function_finds_connections_on_the_index_and_deletes_only_records(
    resources: dict[str, dict[str, Any]],
) -> None:
    for st in role_statements(resources, function_role(resources, "HttpFunction")):
        actions = set(as_list(st["Action"]))
        for resource in as_list(st["Resource"]):
            if "ConnectionsTable" not in referenced(resource):
                continue
            arn = str(resource.get("Fn::Sub", resource) if isinstance(resource, dict) else resource)
            assert "dynamodb:PutItem" not in actions, "the HTTP function never writes a connection"
            if "/index/" in arn:
                assert actions == {"dynamodb:Query"} and arn.endswith("/index/by_principal"), (actions, arn)
            else:
                assert "dynamodb:Query" not in actions, "a Query on the table itself would read every connection"


def test_the_code_calls_the_actions_this_test_expects() -> None:
    # Guards the static reading below: if these go empty, the per-function check would pass for nothing.
    assert {"dynamodb:Query", "dynamodb:PutItem"} <= actions_called(MODULES["StateTable"])
    assert {"dynamodb:UpdateItem"} <= actions_called(MODULES["RateLimitTable"])
    assert {"dynamodb:Query", "dynamodb:DeleteItem"} <= actions_called(MODULES["ConnectionsTable"])


@pytest.mark.parametrize("function", MESSAGE_FUNCTIONS)
def test_each_function_is_granted_the_dynamodb_actions_it_calls_and_never_scan(
    resources: dict[str, dict[str, Any]], function: str
) -> None:
    have = granted(resources, function)
    for table, actions in needed(function).items():
        assert actions <= have.get(table, set()), f"{function} on {table}: missing {actions - have.get(table, set())}"
        assert have.get(table, set()) <= actions, f"{function} on {table}: never calls {have[table] - actions}"
    for table, actions in have.items():
        assert not actions & NEVER, f"{function} on {table}: {actions & NEVER}"
    assert set(have) == set(needed(function)), f"{function} reaches tables it does not use"
    assert not granted(resources, "AuthorizerFunction")
