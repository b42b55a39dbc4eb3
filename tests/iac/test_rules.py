"""The template's ``Rules``, evaluated the way CloudFormation does before it creates anything.

A deploy with the default parameters used to succeed and then refuse every token (no JWKS URL, no secret).
The assertions here run the translated template's rules against parameter sets a user would pass.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.iac.rules import evaluate

pytestmark = pytest.mark.iac


def failed_rules(cfn: dict[str, Any], **overrides: str) -> list[str]:
    """Names of the rules whose assertions fail for the defaults updated with ``overrides``."""
    params: dict[str, Any] = {}
    for name, spec in cfn["Parameters"].items():
        value = overrides.get(name, str(spec.get("Default", "")))
        params[name] = [v.strip() for v in value.split(",")] if spec["Type"] == "CommaDelimitedList" else value
    failed = []
    for name, rule in (cfn.get("Rules") or {}).items():
        if "RuleCondition" in rule and not evaluate(rule["RuleCondition"], params):
            continue
        if not all(evaluate(a["Assert"], params) for a in rule["Assertions"]):
            failed.append(name)
    return failed


JWKS = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc/.well-known/jwks.json"


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        pytest.param({}, True, id="defaults-nobody-could-sign-in"),
        pytest.param({"JwksUrl": JWKS}, False, id="jwks-rs256"),
        pytest.param({"JwksUrl": JWKS, "JwtAlgorithms": "RS256,ES256"}, False, id="jwks-two-asymmetric"),
        pytest.param({"JwtSecretName": "clawline/jwt", "JwtAlgorithms": "HS256"}, False, id="secret-hs256"),
        pytest.param({"JwtSecretName": "clawline/jwt"}, True, id="secret-with-rs256"),
        pytest.param({"JwksUrl": JWKS, "JwtAlgorithms": "HS256"}, True, id="jwks-with-hs256"),
        pytest.param({"JwksUrl": JWKS, "JwtAlgorithms": "RS256,HS256"}, True, id="mixed-families"),
        pytest.param(
            {"JwksUrl": JWKS, "JwtSecretName": "clawline/jwt", "JwtAlgorithms": "HS256"}, True, id="both-sources"
        ),
    ],
)
def test_a_deploy_without_a_usable_token_configuration_is_refused(
    cfn: dict[str, Any], overrides: dict[str, str], refused: bool
) -> None:
    assert ("AuthenticationIsConfigured" in failed_rules(cfn, **overrides)) is refused


def test_fernet_encryption_without_its_secret_is_refused(cfn: dict[str, Any]) -> None:
    auth = {"JwksUrl": JWKS}
    assert "FernetNeedsItsSecret" in failed_rules(cfn, **auth, FieldEncryption="fernet")
    assert failed_rules(cfn, **auth, FieldEncryption="fernet", FernetSecretName="clawline/fernet") == []
    assert failed_rules(cfn, **auth, FieldEncryption="kms") == []
