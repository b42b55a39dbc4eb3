"""``clawline smoke``'s AWS side without an account: the stack read through CloudFormation, the IoT data endpoint,
and the Cognito test user, each answered by botocore's Stubber with responses shaped as the AWS API references
document them. The end-to-end run against ``clawline dev`` is tests/e2e/test_smoke.py.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from clawline.cli import build_parser, smoke

ROOT = Path(__file__).resolve().parents[2]
POOL_ID = "eu-west-1_AbCdEf123"
CLIENT_ID = "4r5t6y7u8i9o0p1a2s3d4f5g6h"
CLIENT_SECRET = "1example23456789abcdefghijklmnopqrstuvwxyzsecret0"  # Cognito: 24-64 characters
ISSUER = f"https://cognito-idp.eu-west-1.amazonaws.com/{POOL_ID}"


def stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(
        service, region_name="eu-west-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return client, Stubber(client)


class Calls:
    """The parameters of every call a client made, as sent (after the Stubber checked them)."""

    def __init__(self, client: Any) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        client.meta.events.register("provide-client-params.*.*", self._record)

    def _record(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        self.calls.append((model.name, dict(params)))

    def of(self, operation: str) -> list[dict[str, Any]]:
        return [p for name, p in self.calls if name == operation]


@pytest.fixture
def cognito() -> Iterator[tuple[Any, Stubber, Calls]]:
    client, stubber = stubbed("cognito-idp")
    calls = Calls(client)
    with stubber:
        yield client, stubber, calls


def stub_pool(stubber: Stubber, *, email_names: bool, secret: str | None) -> None:
    pool: dict[str, Any] = {"Id": POOL_ID, "Name": "clawline-users"}
    if email_names:
        pool["UsernameAttributes"] = ["email"]
    stubber.add_response("describe_user_pool", {"UserPool": pool}, {"UserPoolId": POOL_ID})
    app_client: dict[str, Any] = {"UserPoolId": POOL_ID, "ClientName": "clawline", "ClientId": CLIENT_ID}
    if secret:
        app_client["ClientSecret"] = secret
    stubber.add_response(
        "describe_user_pool_client", {"UserPoolClient": app_client}, {"UserPoolId": POOL_ID, "ClientId": CLIENT_ID}
    )
    stubber.add_response(
        "admin_create_user",
        {"User": {"Username": "u", "Enabled": True, "UserStatus": "FORCE_CHANGE_PASSWORD"}},
        {"UserPoolId": POOL_ID, "Username": ANY, "TemporaryPassword": ANY, "MessageAction": "SUPPRESS"},
    )
    stubber.add_response(
        "admin_set_user_password",
        {},
        {"UserPoolId": POOL_ID, "Username": ANY, "Password": ANY, "Permanent": True},
    )


AUTH_PARAMS = {
    "UserPoolId": POOL_ID,
    "ClientId": CLIENT_ID,
    "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
    "AuthParameters": ANY,
}
TOKENS = {
    "ChallengeParameters": {},
    "AuthenticationResult": {
        "AccessToken": "eyJ.access.sig",
        "ExpiresIn": 3600,
        "TokenType": "Bearer",
        "RefreshToken": "eyJ.refresh.sig",
        "IdToken": "eyJ.id.sig",
    },
}


def test_the_cognito_test_user_signs_in_with_the_id_token_and_is_deleted(
    cognito: tuple[Any, Stubber, Calls],
) -> None:
    client, stubber, calls = cognito
    stub_pool(stubber, email_names=False, secret=None)
    stubber.add_response("admin_initiate_auth", TOKENS, AUTH_PARAMS)
    stubber.add_response("admin_delete_user", {}, {"UserPoolId": POOL_ID, "Username": ANY})

    user = smoke.CognitoTestUser(client, POOL_ID, CLIENT_ID)
    assert user.sign_in() == "eyJ.id.sig"  # the ID token: its `aud` is the app client id the authorizer expects
    assert user.delete().startswith("deleted clawline-smoke-")
    stubber.assert_no_pending_responses()

    (created,) = calls.of("AdminCreateUser")
    (auth,) = calls.of("AdminInitiateAuth")
    (deleted,) = calls.of("AdminDeleteUser")
    assert created["Username"] == auth["AuthParameters"]["USERNAME"] == deleted["Username"]
    assert calls.of("AdminSetUserPassword")[0]["Password"] == auth["AuthParameters"]["PASSWORD"]
    assert "SECRET_HASH" not in auth["AuthParameters"]


def test_a_pool_with_email_user_names_and_a_client_secret_gets_both(cognito: tuple[Any, Stubber, Calls]) -> None:
    client, stubber, calls = cognito
    stub_pool(stubber, email_names=True, secret=CLIENT_SECRET)
    stubber.add_response("admin_initiate_auth", TOKENS, AUTH_PARAMS)
    stubber.add_response("admin_delete_user", {}, {"UserPoolId": POOL_ID, "Username": ANY})

    user = smoke.CognitoTestUser(client, POOL_ID, CLIENT_ID)
    user.sign_in()
    user.delete()
    (auth,) = calls.of("AdminInitiateAuth")
    username = auth["AuthParameters"]["USERNAME"]
    assert username.endswith("@example.com")
    # Cognito's documented SECRET_HASH: Base64(HMAC_SHA256(client secret, user name + client id)).
    expected = hmac.new(CLIENT_SECRET.encode(), (username + CLIENT_ID).encode(), hashlib.sha256).digest()
    assert auth["AuthParameters"]["SECRET_HASH"] == base64.b64encode(expected).decode()


def args_for(**values: Any) -> argparse.Namespace:
    parsed = build_parser().parse_args(["smoke"])
    for key, value in values.items():
        setattr(parsed, key, value)
    return parsed


def test_a_refused_sign_in_fails_the_run_and_still_deletes_the_user(
    cognito: tuple[Any, Stubber, Calls], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, stubber, calls = cognito
    stub_pool(stubber, email_names=False, secret=None)
    stubber.add_client_error(
        "admin_initiate_auth",
        service_error_code="InvalidParameterException",
        service_message="Auth flow not enabled for this client",
        http_status_code=400,
        expected_params=AUTH_PARAMS,
    )
    stubber.add_response("admin_delete_user", {}, {"UserPoolId": POOL_ID, "Username": ANY})
    monkeypatch.setattr("clawline.cli.stack.aws_client", lambda service, **_: client)
    monkeypatch.delenv(smoke.TOKEN_VARIABLE, raising=False)

    target = smoke.Target(issuer=ISSUER, audience=CLIENT_ID)  # no endpoint: only the token is at stake here
    report = smoke.run(args_for(), target)
    rows = {c.name: c for c in report.checks}
    assert not rows["token"].ok and "Auth flow not enabled" in rows["token"].detail
    assert rows["test user removed"].ok
    assert not report.ok
    stubber.assert_no_pending_responses()
    assert calls.of("AdminCreateUser")[0]["Username"] == calls.of("AdminDeleteUser")[0]["Username"]


@pytest.mark.parametrize(
    ("issuer", "expected"),
    [
        (ISSUER, ("eu-west-1", POOL_ID)),
        (ISSUER + "/", ("eu-west-1", POOL_ID)),
        ("https://issuer.example.com/", None),
        ("https://cognito-idp.eu-west-1.amazonaws.com.evil.example/eu-west-1_x", None),
        ("", None),
        (None, None),
    ],
)
def test_only_a_cognito_user_pool_issuer_asks_for_a_test_user(issuer: str | None, expected: Any) -> None:
    assert smoke.cognito_pool(issuer) == expected


def test_the_stack_gives_the_endpoints_the_device_policy_and_the_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    cloudformation, cfn_stub = stubbed("cloudformation")
    iot, iot_stub = stubbed("iot")
    stack_id = "arn:aws:cloudformation:eu-west-1:111122223333:stack/clawline-dev/8f1c5e40-0b1e-11ef-9c3a-0a1b2c3d4e5f"
    cfn_stub.add_response(
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackId": stack_id,
                    "StackName": "clawline-dev",
                    "CreationTime": "2026-12-01T10:00:00Z",
                    "StackStatus": "CREATE_COMPLETE",
                    "Parameters": [
                        {"ParameterKey": "JwtIssuer", "ParameterValue": ISSUER},
                        {"ParameterKey": "JwtAudience", "ParameterValue": CLIENT_ID},
                    ],
                    "Outputs": [
                        {
                            "OutputKey": "HttpApiUrl",
                            "OutputValue": "https://abc123.execute-api.eu-west-1.amazonaws.com/dev",
                        },
                        {
                            "OutputKey": "WebSocketUrl",
                            "OutputValue": "wss://def456.execute-api.eu-west-1.amazonaws.com/dev",
                        },
                        {"OutputKey": "DevicePolicyName", "OutputValue": "clawline-device-dev"},
                    ],
                }
            ]
        },
        {"StackName": "clawline-dev"},
    )
    iot_stub.add_response(
        "describe_endpoint",
        {"endpointAddress": "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com"},
        {"endpointType": "iot:Data-ATS"},
    )
    clients = {"cloudformation": cloudformation, "iot": iot}
    monkeypatch.setattr("clawline.cli.stack.aws_client", lambda service, **_: clients[service])
    with cfn_stub, iot_stub:
        target = smoke.resolve_target(args_for(stack="clawline-dev"))
    assert target == smoke.Target(
        http_url="https://abc123.execute-api.eu-west-1.amazonaws.com/dev",
        ws_url="wss://def456.execute-api.eu-west-1.amazonaws.com/dev",
        mqtt_url="mqtts://a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com:8883",
        device_policy="clawline-device-dev",
        issuer=ISSUER,
        audience=CLIENT_ID,
    )


def test_a_missing_stack_is_a_usage_error_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cloudformation, stub = stubbed("cloudformation")
    stub.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message="Stack with id nope does not exist",
        http_status_code=400,
    )
    monkeypatch.setattr("clawline.cli.stack.aws_client", lambda service, **_: cloudformation)
    with stub:
        assert smoke.smoke_command(args_for(stack="nope")) == 2
    assert "Stack with id nope does not exist" in capsys.readouterr().err


def test_building_the_cli_imports_no_aws_or_network_client() -> None:
    # The CLI ships in the engine layer: registering device/smoke must not add to a function's cold start.
    code = (
        "import sys; from clawline.cli import build_parser; build_parser(); "
        "print(sorted(m for m in ('boto3', 'botocore', 'httpx', 'websockets', 'paho') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(ROOT / "layers" / "engine")},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.strip() == "[]"


def test_the_token_may_come_from_the_environment_instead_of_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(smoke.TOKEN_VARIABLE, "eyJ.env.sig")
    report = smoke.run(args_for(), smoke.Target())
    assert (report.checks[0].name, report.checks[0].ok) == ("token", True)
    assert smoke.TOKEN_VARIABLE in report.checks[0].detail


@pytest.mark.parametrize("bad", ["0", "-5", "nan", "soon", "10000"])
def test_a_timeout_that_is_not_a_sensible_number_of_seconds_is_refused(
    bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["smoke", "--timeout", bad])
    assert exit_info.value.code == 2
    assert "--timeout" in capsys.readouterr().err
