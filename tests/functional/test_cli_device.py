"""``clawline device add|list|remove`` against moto's IoT Core on a loopback port: what a user checks afterwards
in the console (the thing, its certificate, the policy on the certificate) and on disk (the key files).
"""

from __future__ import annotations

import json
import stat
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from clawline.cli import main
from tests.helpers.aws import client

POLICY_DOCUMENT = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}],
    }
)


@pytest.fixture
def iot(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    # The CLI finds moto through boto3's standard variable, as it would find any other endpoint.
    monkeypatch.setenv("AWS_ENDPOINT_URL_IOT", moto_server)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", moto_server)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    return client("iot", moto_server)


@pytest.fixture
def policy(iot: Any) -> str:
    name = f"clawline-device-{uuid.uuid4().hex[:8]}"
    iot.create_policy(policyName=name, policyDocument=POLICY_DOCUMENT)
    return name


def thing_name() -> str:
    return f"sensor-{uuid.uuid4().hex[:8]}"


def certificate_arns(iot: Any, thing: str) -> list[str]:
    return [p for p in iot.list_thing_principals(thingName=thing)["principals"] if ":cert/" in p]


def missing(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as exc:
        return exc.response["Error"]["Code"] == "ResourceNotFoundException"
    return False


def test_add_creates_a_thing_whose_active_certificate_carries_the_policy_and_writes_private_files(
    iot: Any, policy: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    thing = thing_name()
    assert main(["device", "add", thing, "--policy", policy, "--out", str(tmp_path / "dev")]) == 0

    (cert_arn,) = certificate_arns(iot, thing)
    cert_id = cert_arn.rsplit("/", 1)[1]
    description = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
    assert description["status"] == "ACTIVE"
    assert [p["policyName"] for p in iot.list_attached_policies(target=cert_arn)["policies"]] == [policy]

    files = {p.name: p for p in (tmp_path / "dev").iterdir()}
    assert set(files) == {f"{thing}.cert.pem", f"{thing}.private.key", f"{thing}.public.key"}
    for path in files.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert files[f"{thing}.cert.pem"].read_text() == description["certificatePem"]
    # The private key on disk is the one the registered certificate certifies.
    key = serialization.load_pem_private_key(files[f"{thing}.private.key"].read_bytes(), password=None)
    certificate = x509.load_pem_x509_certificate(description["certificatePem"].encode())
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.PEM, spki) == certificate.public_key().public_bytes(
        serialization.Encoding.PEM, spki
    )

    out = capsys.readouterr().out
    endpoint = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
    assert endpoint.split(".", 1)[1] in out and "-ats.iot." in out  # moto's endpoint id changes per call
    assert f"-i {thing} -t 'clawline/{thing}/in'" in out and "mosquitto_pub" in out and "-p 8883" in out
    assert "mosquitto_rr" in out and f"-e 'clawline/{thing}/out'" in out
    assert f'client_id="{thing}"' in out and "tls_set(" in out
    paho = textwrap.dedent(out.split("paho-mqtt (Python)", 1)[1].split("\n", 1)[1])
    compile(paho, "paho-example", "exec")  # the printed example is valid Python as printed
    assert str(files[f"{thing}.private.key"]) in out


def test_add_reads_the_policy_from_the_stack_outputs(iot: Any, policy: str, moto_server: str, tmp_path: Path) -> None:
    stack = f"clawline-{uuid.uuid4().hex[:8]}"
    body = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {"DevicePolicyName": {"Value": policy}},
    }
    client("cloudformation", moto_server).create_stack(StackName=stack, TemplateBody=json.dumps(body))
    thing = thing_name()
    assert main(["device", "add", thing, "--stack", stack, "--out", str(tmp_path)]) == 0
    (cert_arn,) = certificate_arns(iot, thing)
    assert [p["policyName"] for p in iot.list_attached_policies(target=cert_arn)["policies"]] == [policy]


def test_list_shows_the_devices_of_one_policy(
    iot: Any, policy: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine, other = thing_name(), thing_name()
    assert main(["device", "add", mine, "--policy", policy, "--out", str(tmp_path / "a")]) == 0
    iot.create_thing(thingName=other)  # not made by clawline: never listed
    capsys.readouterr()
    assert main(["device", "list", "--policy", policy]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["THING", "POLICY", "CERTIFICATES"]
    assert [line.split()[0] for line in lines[1:]] == [mine]
    assert "ACTIVE" in lines[1]
    # Without a policy: every device `add` made, of any stage, and still no foreign thing.
    assert main(["device", "list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert mine in listed and other not in listed


def test_remove_deletes_the_certificate_and_the_thing_and_keeps_the_policy(
    iot: Any, policy: str, tmp_path: Path
) -> None:
    thing = thing_name()
    assert main(["device", "add", thing, "--policy", policy, "--out", str(tmp_path)]) == 0
    (cert_arn,) = certificate_arns(iot, thing)
    assert main(["device", "remove", thing, "--policy", policy]) == 0
    assert missing(iot.describe_thing, thingName=thing)
    assert missing(iot.describe_certificate, certificateId=cert_arn.rsplit("/", 1)[1])
    assert iot.get_policy(policyName=policy)["policyName"] == policy


@pytest.mark.parametrize("bad", ["has space", "a/b", "clawline/+/in", "", "x" * 129, "émile"])
def test_add_refuses_a_thing_name_that_cannot_be_a_client_id_or_topic_level(
    iot: Any, policy: str, tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    things_before = iot.list_things()["things"]
    assert main(["device", "add", bad, "--policy", policy, "--out", str(tmp_path)]) == 2
    assert "not a valid thing name" in capsys.readouterr().err
    assert iot.list_things()["things"] == things_before
    assert list(tmp_path.iterdir()) == []


def test_add_with_an_unknown_policy_creates_nothing(
    iot: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    thing = thing_name()
    assert main(["device", "add", thing, "--policy", "no-such-policy", "--out", str(tmp_path)]) == 2
    assert "no IoT policy named no-such-policy" in capsys.readouterr().err
    assert missing(iot.describe_thing, thingName=thing)


def test_add_without_a_policy_or_stack_says_what_to_give(iot: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "add", thing_name()]) == 2
    assert "--stack NAME" in capsys.readouterr().err


def test_add_never_touches_an_existing_thing_or_overwrites_key_files(
    iot: Any, policy: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    thing = thing_name()
    iot.create_thing(thingName=thing)
    assert main(["device", "add", thing, "--policy", policy, "--out", str(tmp_path / "a")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert certificate_arns(iot, thing) == []

    other = thing_name()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / f"{other}.private.key").write_text("someone's key")
    assert main(["device", "add", other, "--policy", policy, "--out", str(tmp_path / "b")]) == 2
    assert (tmp_path / "b" / f"{other}.private.key").read_text() == "someone's key"
    assert missing(iot.describe_thing, thingName=other)


class FailingAttach:
    """The real moto client, except that attaching the certificate to the thing fails (a throttle, say)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def attach_thing_principal(self, **_kwargs: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "AttachThingPrincipal"
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_failed_add_leaves_no_thing_certificate_or_key_behind(iot: Any, policy: str, tmp_path: Path) -> None:
    from clawline.cli.device import provision

    certificates_before = {c["certificateId"] for c in iot.list_certificates()["certificates"]}
    thing = thing_name()
    with pytest.raises(ClientError, match="Rate exceeded"):
        provision(FailingAttach(iot), thing, policy, tmp_path)
    assert missing(iot.describe_thing, thingName=thing)
    assert {c["certificateId"] for c in iot.list_certificates()["certificates"]} == certificates_before
    assert list(tmp_path.iterdir()) == []


def test_remove_refuses_a_thing_it_did_not_make(iot: Any, capsys: pytest.CaptureFixture[str]) -> None:
    thing = thing_name()
    iot.create_thing(thingName=thing)
    assert main(["device", "remove", thing]) == 2
    assert "not made by `clawline device add`" in capsys.readouterr().err
    assert iot.describe_thing(thingName=thing)["thingName"] == thing
    assert main(["device", "remove", thing_name()]) == 2
    assert "no thing named" in capsys.readouterr().err


class SlowDetach:
    """The real moto client, except that IoT Core still sees the detached principal for a moment (it detaches
    asynchronously): the first delete of the certificate and of the thing answer a conflict."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.conflicts = {"delete_certificate": 1, "delete_thing": 1}

    def _conflict_then(self, name: str, code: str, **kwargs: Any) -> Any:
        if self.conflicts[name]:
            self.conflicts[name] -= 1
            raise ClientError({"Error": {"Code": code, "Message": "still attached"}}, name)
        return getattr(self.real, name)(**kwargs)

    def delete_certificate(self, **kwargs: Any) -> Any:
        return self._conflict_then("delete_certificate", "DeleteConflictException", **kwargs)

    def delete_thing(self, **kwargs: Any) -> Any:
        return self._conflict_then("delete_thing", "InvalidRequestException", **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_remove_waits_for_a_detachment_to_propagate(
    iot: Any, policy: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from clawline.cli import device

    monkeypatch.setattr(device, "PROPAGATION_DELAYS", (0.0, 0.0))
    thing = thing_name()
    made = device.provision(iot, thing, policy, tmp_path)
    slow = SlowDetach(iot)
    device.deprovision(slow, thing, policy)
    assert slow.conflicts == {"delete_certificate": 0, "delete_thing": 0}
    assert missing(iot.describe_thing, thingName=thing)
    assert missing(iot.describe_certificate, certificateId=made.certificate_id)
