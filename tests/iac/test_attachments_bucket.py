"""The uploads bucket as CloudFormation will create it: encrypted with the stack's key, never public, TLS only,
expired with the conversations, and reachable by each function with exactly the S3 actions its code calls."""

from __future__ import annotations

from typing import Any

import pytest

from tests.iac.test_translated_template import as_list, function_role, of_type, referenced

pytestmark = pytest.mark.iac

#: What each function does with uploads: HeadObject needs s3:GetObject; presigning and inline writes s3:PutObject;
#: data rights (the HTTP function) delete an owner's objects. Listing them is ListBucket, on the bucket itself:
#: checked apart, below.
S3_ACTIONS = {
    "HttpFunction": {"s3:GetObject", "s3:PutObject", "s3:DeleteObject"},
    "WebSocketFunction": {"s3:GetObject"},
    "MqttFunction": {"s3:PutObject"},
    "AuthorizerFunction": set(),
}


def bucket(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    (found,) = of_type(resources, "AWS::S3::Bucket").items()
    return found


def statements_for_role(resources: dict[str, dict[str, Any]], role: str) -> list[dict[str, Any]]:
    """Every statement the role gets: its inline policies and the standalone policies attached to it."""
    out: list[dict[str, Any]] = []
    for res in resources.values():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Role" and res is resources.get(role):
            for policy in props.get("Policies", []):
                if isinstance(policy, dict) and "PolicyDocument" in policy:
                    out.extend(as_list(policy["PolicyDocument"]["Statement"]))
        elif res["Type"] == "AWS::IAM::Policy" and role in referenced(props.get("Roles", [])):
            out.extend(as_list(props["PolicyDocument"]["Statement"]))
    return [s for s in out if isinstance(s, dict) and "Effect" in s]


def test_uploads_are_encrypted_with_the_stacks_key_and_never_public(resources: dict[str, dict[str, Any]]) -> None:
    _, res = bucket(resources)
    props = res["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert referenced(rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]) == {"DataKey"}
    assert rule["BucketKeyEnabled"] is True
    assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_uploads_expire_with_the_conversations(resources: dict[str, dict[str, Any]]) -> None:
    _, res = bucket(resources)
    (rule,) = res["Properties"]["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["Prefix"] == "uploads/"
    assert rule["ExpirationInDays"] == {"Ref": "ConversationRetentionDays"}


def test_the_bucket_refuses_every_request_without_tls(resources: dict[str, dict[str, Any]]) -> None:
    name, _ = bucket(resources)
    (policy,) = of_type(resources, "AWS::S3::BucketPolicy").values()
    assert referenced(policy["Properties"]["Bucket"]) == {name}
    denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    tls = [s for s in denies if s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"]
    assert tls, "no TLS-only statement"
    (statement,) = tls
    assert statement["Principal"] == "*" and statement["Action"] == "s3:*"
    assert len(as_list(statement["Resource"])) == 2  # the bucket and its objects


@pytest.mark.parametrize("function", sorted(S3_ACTIONS))
def test_each_function_gets_exactly_the_s3_actions_it_calls_on_the_uploads_prefix(
    resources: dict[str, dict[str, Any]], function: str
) -> None:
    name, _ = bucket(resources)
    granted: set[str] = set()
    for st in statements_for_role(resources, function_role(resources, function)):
        actions = {str(a) for a in as_list(st["Action"]) if str(a).startswith("s3:")}
        if not actions or actions == {"s3:ListBucket"}:
            continue
        for resource in as_list(st["Resource"]):
            assert referenced(resource) == {name}, resource
            assert str(resource["Fn::Sub"]).endswith("/uploads/*"), resource
        granted |= actions
    assert granted == S3_ACTIONS[function]


@pytest.mark.parametrize("function", ["HttpFunction", "MqttFunction"])
def test_writers_use_the_key_only_through_s3_for_this_bucket(
    resources: dict[str, dict[str, Any]], function: str
) -> None:
    name, _ = bucket(resources)
    via_s3 = [
        st
        for st in statements_for_role(resources, function_role(resources, function))
        if "kms:ViaService" in (st.get("Condition") or {}).get("StringEquals", {})
    ]
    assert via_s3, f"{function} cannot encrypt what it uploads"
    for st in via_s3:
        equals = st["Condition"]["StringEquals"]
        assert str(equals["kms:ViaService"]["Fn::Sub"]).startswith("s3.")
        assert referenced(equals["kms:EncryptionContext:aws:s3:arn"]) == {name}
        assert referenced(st["Resource"]) == {"DataKey"}


def test_only_the_http_function_lists_the_bucket_and_only_under_uploads(resources: dict[str, dict[str, Any]]) -> None:
    name, _ = bucket(resources)
    for function in S3_ACTIONS:
        listing = [
            st
            for st in statements_for_role(resources, function_role(resources, function))
            if "s3:ListBucket" in {str(a) for a in as_list(st["Action"])}
        ]
        if function != "HttpFunction":
            assert not listing, f"{function} can list the bucket"
            continue
        (st,) = listing
        assert as_list(st["Action"]) == ["s3:ListBucket"]
        (resource,) = as_list(st["Resource"])
        assert resource == {"Fn::GetAtt": [name, "Arn"]}
        assert st["Condition"] == {"StringLike": {"s3:prefix": "uploads/*"}}
