"""``clawline device add|list|remove|pair|unpair``: IoT Core devices for a deployed stack.

A device is a thing whose name is its MQTT client id, with an X.509 certificate that carries the stack's device
policy. The policy lets a connection in only as the thing its certificate is attached to
(``iot:Connection.Thing.IsAttached``) and only on ``clawline/<thing>/in`` and ``clawline/<thing>/out``; so all
three (thing, certificate, policy) must exist and be attached, or the device cannot connect.

``add`` is all or nothing: if a step fails, what it already created is removed again, so a retry starts clean.
``remove`` undoes ``add`` in the order IoT Core requires (policy and thing detached, certificate deactivated,
then deleted, then the thing). The private key exists only in the file ``add`` writes (mode 0600): IoT Core
never returns it again.

Requests per ``add``: DescribeStacks (with ``--stack``), GetPolicy, DescribeThing, CreateThing,
CreateKeysAndCertificate, AttachPolicy, AttachThingPrincipal, DescribeEndpoint.

``pair THING --user SUB`` links a device to a user, ``unpair THING`` removes the link (``clawline.store.pairings``:
one item in the stack's state table, what ``PUT``/``DELETE /v1/admin/devices/{thing}/pairing`` write too). A
paired device's messages join that user's conversations; the MQTT function notices within a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: IoT Core's thing-name pattern; the name is also the MQTT client id and a topic level, so no '/', '+' or '#'.
THING_NAME = re.compile(r"^[a-zA-Z0-9:_-]{1,128}$")
#: Thing attribute that marks a device made by this command, with the policy (so the stage) it belongs to.
DEVICE_ATTRIBUTE = "clawline_policy"
AMAZON_ROOT_CA_URL = "https://www.amazontrust.com/repository/AmazonRootCA1.pem"
MQTT_TLS_PORT = 8883


#: Seconds between attempts while a detachment propagates: IoT Core detaches asynchronously ("it might take several
#: seconds"), and deleting a certificate or thing before that fails with a conflict.
PROPAGATION_DELAYS: tuple[float, ...] = (1, 2, 2, 3, 3, 4, 5)
#: What IoT Core answers while a detached principal still counts as attached.
STILL_ATTACHED = frozenset({"DeleteConflictException", "InvalidRequestException"})


class DeviceError(RuntimeError):
    """A device operation that cannot be done as asked; the message says why and what to do."""


@dataclass(frozen=True)
class DeviceFiles:
    directory: Path
    certificate: Path
    private_key: Path
    public_key: Path

    @classmethod
    def under(cls, directory: Path, thing: str) -> DeviceFiles:
        return cls(
            directory=directory,
            certificate=directory / f"{thing}.cert.pem",
            private_key=directory / f"{thing}.private.key",
            public_key=directory / f"{thing}.public.key",
        )

    def paths(self) -> tuple[Path, Path, Path]:
        return self.certificate, self.private_key, self.public_key


@dataclass(frozen=True)
class Device:
    thing: str
    certificate_id: str
    certificate_arn: str
    policy: str
    files: DeviceFiles


def check_thing_name(thing: str) -> str:
    if not THING_NAME.match(thing):
        raise DeviceError(
            f"{thing!r} is not a valid thing name: 1-128 letters, digits, ':', '_' or '-' "
            "(it is also the MQTT client id and a topic level)"
        )
    return thing


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _write_private(path: Path, text: str) -> None:
    # Created 0600 from the start (never world-readable, even for an instant) and never over an existing file.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text)


def provision(iot: Any, thing: str, policy: str, directory: Path) -> Device:
    """Create the thing, its keys and certificate, attach the policy and the certificate; write the files."""
    from botocore.exceptions import ClientError

    check_thing_name(thing)
    files = DeviceFiles.under(directory, thing)
    taken = [str(p) for p in files.paths() if p.exists()]
    if taken:
        raise DeviceError(f"{', '.join(taken)} already exist: remove them or choose another --out")
    try:
        iot.get_policy(policyName=policy)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            raise DeviceError(
                f"no IoT policy named {policy} in this account and region (is the stack deployed?)"
            ) from exc
        raise
    try:
        iot.describe_thing(thingName=thing)
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
    else:
        raise DeviceError(
            f"thing {thing} already exists: `clawline device remove {thing}` first, or choose another name"
        )

    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    created_thing = False
    cert: dict[str, Any] = {}
    try:
        iot.create_thing(thingName=thing, attributePayload={"attributes": {DEVICE_ATTRIBUTE: policy}})
        created_thing = True
        cert = iot.create_keys_and_certificate(setAsActive=True)
        _write_private(files.private_key, cert["keyPair"]["PrivateKey"])
        _write_private(files.public_key, cert["keyPair"]["PublicKey"])
        _write_private(files.certificate, cert["certificatePem"])
        iot.attach_policy(policyName=policy, target=cert["certificateArn"])
        iot.attach_thing_principal(thingName=thing, principal=cert["certificateArn"])
    except BaseException:
        _undo(iot, thing if created_thing else None, cert.get("certificateArn"), cert.get("certificateId"), policy)
        for path in files.paths():
            path.unlink(missing_ok=True)
        raise
    return Device(thing, cert["certificateId"], cert["certificateArn"], policy, files)


def _undo(iot: Any, thing: str | None, cert_arn: str | None, cert_id: str | None, policy: str) -> None:
    # Best effort, in IoT Core's order; a step that fails because its object never existed is fine.
    steps: list[tuple[str, dict[str, Any]]] = []
    if cert_arn and cert_id:
        steps.append(("detach_policy", {"policyName": policy, "target": cert_arn}))
        if thing:
            steps.append(("detach_thing_principal", {"thingName": thing, "principal": cert_arn}))
        steps.append(("update_certificate", {"certificateId": cert_id, "newStatus": "INACTIVE"}))
        steps.append(("delete_certificate", {"certificateId": cert_id}))
    if thing:
        steps.append(("delete_thing", {"thingName": thing}))
    for method, kwargs in steps:
        try:
            if method.startswith("delete_"):
                _after_detach(getattr(iot, method), **kwargs)
            else:
                getattr(iot, method)(**kwargs)
        except Exception as exc:  # noqa: BLE001 - rollback continues past what did not exist
            print(f"clawline device: could not {method.replace('_', ' ')} ({_code(exc) or exc})", file=sys.stderr)


def _after_detach(call: Any, **kwargs: Any) -> None:
    """``call(**kwargs)``, retried while IoT Core still sees a detached principal as attached."""
    import time

    from botocore.exceptions import ClientError

    for delay in (*PROPAGATION_DELAYS, None):
        try:
            call(**kwargs)
            return
        except ClientError as exc:
            if _code(exc) not in STILL_ATTACHED or delay is None:
                raise
            time.sleep(delay)


def deprovision(iot: Any, thing: str, policy: str | None = None) -> list[str]:
    """Detach and delete the thing's certificates (those no other thing uses) and the thing. Returns what it did.

    Only a thing made by :func:`provision` (for ``policy``, when given) is removed: the command must never delete
    someone else's device because a name matched.
    """
    from botocore.exceptions import ClientError

    check_thing_name(thing)
    try:
        attributes = iot.describe_thing(thingName=thing).get("attributes") or {}
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            raise DeviceError(f"no thing named {thing}") from exc
        raise
    owner = attributes.get(DEVICE_ATTRIBUTE)
    if owner is None:
        raise DeviceError(f"thing {thing} was not made by `clawline device add` (no {DEVICE_ATTRIBUTE} attribute)")
    if policy and owner != policy:
        raise DeviceError(f"thing {thing} belongs to policy {owner}, not {policy}")
    principals = iot.list_thing_principals(thingName=thing)["principals"]
    done: list[str] = []
    for arn in principals:
        iot.detach_thing_principal(thingName=thing, principal=arn)
        done.append(f"detached {arn}")
        if ":cert/" not in arn:
            continue
        if iot.list_principal_things(principal=arn)["things"]:
            done.append(f"kept certificate {arn} (another thing uses it)")
            continue
        for attached in iot.list_attached_policies(target=arn)["policies"]:
            iot.detach_policy(policyName=attached["policyName"], target=arn)
            done.append(f"detached policy {attached['policyName']}")
        certificate_id = arn.rsplit("/", 1)[1]
        iot.update_certificate(certificateId=certificate_id, newStatus="INACTIVE")
        _after_detach(iot.delete_certificate, certificateId=certificate_id)
        done.append(f"deleted certificate {certificate_id}")
    _after_detach(iot.delete_thing, thingName=thing)
    done.append(f"deleted thing {thing}")
    return done


def list_devices(iot: Any, policy: str | None) -> list[dict[str, str]]:
    """Things made by ``device add`` (for one policy, or all), with their certificates' states."""
    # ListThings filters on a name and value together; without a policy, every thing is read and filtered here.
    kwargs: dict[str, Any] = {"attributeName": DEVICE_ATTRIBUTE, "attributeValue": policy} if policy else {}
    rows: list[dict[str, str]] = []
    things: list[dict[str, Any]] = []
    token = None
    while True:
        page = iot.list_things(**kwargs, **({"nextToken": token} if token else {}))
        things += page.get("things", [])
        token = page.get("nextToken")
        if not token:
            break
    for item in things:
        attributes = item.get("attributes") or {}
        if DEVICE_ATTRIBUTE not in attributes or (policy and attributes[DEVICE_ATTRIBUTE] != policy):
            continue
        name = item["thingName"]
        certs = [p for p in iot.list_thing_principals(thingName=name)["principals"] if ":cert/" in p]
        states = []
        for arn in certs:
            description = iot.describe_certificate(certificateId=arn.rsplit("/", 1)[1])["certificateDescription"]
            states.append(f"{description['certificateId'][:12]} {description['status']}")
        rows.append({"thing": name, "policy": attributes[DEVICE_ATTRIBUTE], "certificates": ", ".join(states) or "-"})
    return sorted(rows, key=lambda r: r["thing"])


def data_endpoint(iot: Any) -> str:
    """The account's ATS data endpoint (the legacy iot:Data one serves a certificate modern clients reject)."""
    return str(iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"])


def examples(device: Device, endpoint: str) -> str:
    files = device.files
    thing = device.thing
    message = json.dumps({"text": "hello", "message_id": f"{thing}-1"})
    cert, key = shlex.quote(str(files.certificate)), shlex.quote(str(files.private_key))
    tls = f"--cafile AmazonRootCA1.pem --cert {cert} --key {key} -h {endpoint} -p {MQTT_TLS_PORT}"
    return f"""\
Amazon's root CA first: curl -sO {AMAZON_ROOT_CA_URL}
The policy admits one connection per device, with client id {thing}.

Send a message:

  mosquitto_pub {tls} \\
    -i {thing} -t 'clawline/{thing}/in' -q 1 -m '{message}'

Send it and wait for the reply (mosquitto_rr: subscribe, publish and receive on the one connection):

  mosquitto_rr {tls} \\
    -i {thing} -t 'clawline/{thing}/in' -e 'clawline/{thing}/out' -q 1 -m '{message}'

paho-mqtt (Python), one client that subscribes then publishes:

  import json, paho.mqtt.client as mqtt
  from paho.mqtt.enums import CallbackAPIVersion
  client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="{thing}")
  client.tls_set(ca_certs="AmazonRootCA1.pem", certfile={str(files.certificate)!r}, keyfile={str(files.private_key)!r})
  client.on_connect = lambda c, *a: c.subscribe("clawline/{thing}/out", qos=1)
  client.on_subscribe = lambda c, *a: c.publish("clawline/{thing}/in", json.dumps({message}), qos=1)
  client.on_message = lambda c, u, m: print(m.payload.decode())
  client.connect("{endpoint}", {MQTT_TLS_PORT})
  client.loop_forever()
"""


# ---------------------------------------------------------------- command line


def register(subparsers: Any) -> None:
    device = subparsers.add_parser(
        "device",
        help="add, list or remove IoT devices of a deployed stack",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    commands = device.add_subparsers(dest="device_command", metavar="SUBCOMMAND", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--stack", help="stack whose DevicePolicyName output names the policy")
        source.add_argument("--policy", help="the device policy's name (instead of --stack)")
        parser.add_argument("--region", help="AWS region (default: the AWS CLI configuration)")
        parser.add_argument("--endpoint-url", help="IoT control-plane endpoint (default: AWS, or AWS_ENDPOINT_URL_IOT)")

    add = commands.add_parser("add", help="create a thing with a certificate that carries the device policy")
    add.add_argument("thing", help="thing name = MQTT client id (topics clawline/THING/in and /out)")
    add.add_argument("--out", type=Path, help="folder for the certificate and keys (default: ./devices/THING)")
    common(add)
    add.set_defaults(handler=add_command)

    listing = commands.add_parser("list", help="things made by `device add` and their certificates")
    common(listing)
    listing.set_defaults(handler=list_command)

    remove = commands.add_parser("remove", help="detach, deactivate and delete the certificate, delete the thing")
    remove.add_argument("thing")
    common(remove)
    remove.set_defaults(handler=remove_command)

    def table(parser: argparse.ArgumentParser) -> None:
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--stack", help="stack whose StateTableName output names the state table")
        source.add_argument("--table", help="the state table's name (instead of --stack)")
        parser.add_argument("--region", help="AWS region (default: the AWS CLI configuration)")
        parser.add_argument("--endpoint-url", help="DynamoDB endpoint (default: AWS, or AWS_ENDPOINT_URL_DYNAMODB)")

    pair = commands.add_parser("pair", help="pair a device with a user: its messages join the user's conversations")
    pair.add_argument("thing")
    pair.add_argument("--user", required=True, help="the user's JWT sub")
    table(pair)
    pair.set_defaults(handler=pair_command)

    unpair = commands.add_parser("unpair", help="remove a device's pairing: it talks as itself again")
    unpair.add_argument("thing")
    table(unpair)
    unpair.set_defaults(handler=unpair_command)


def _policy(args: argparse.Namespace, *, required: bool) -> str | None:
    from clawline.cli.stack import aws_client, describe_stack

    if args.policy:
        return str(args.policy)
    if args.stack:
        return describe_stack(args.stack, aws_client("cloudformation", region=args.region)).output("DevicePolicyName")
    if required:
        raise DeviceError("say which device policy to attach: --stack NAME (reads its outputs) or --policy NAME")
    return None


def _iot(args: argparse.Namespace) -> Any:
    from clawline.cli.stack import aws_client

    return aws_client("iot", region=args.region, endpoint_url=args.endpoint_url)


def _run(args: argparse.Namespace, action: Any) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from clawline.cli.stack import StackError

    try:
        return int(action(args))
    except (DeviceError, StackError) as exc:
        print(f"clawline device: {exc}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:
        print(f"clawline device: AWS refused: {exc}", file=sys.stderr)
        return 1


def add_command(args: argparse.Namespace) -> int:
    def add(args: argparse.Namespace) -> int:
        thing = check_thing_name(args.thing)
        policy = _policy(args, required=True)
        if policy is None:  # required=True raised already; this keeps the type checker informed
            raise DeviceError("no device policy")
        iot = _iot(args)
        device = provision(iot, thing, policy, args.out or Path("devices") / thing)
        endpoint = data_endpoint(iot)
        print(f"thing        {device.thing}")
        print(f"certificate  {device.certificate_id} (ACTIVE, policy {device.policy})")
        print(f"files        {device.files.certificate}, {device.files.private_key} (mode 0600)")
        print(f"endpoint     {endpoint}:{MQTT_TLS_PORT} (mutual TLS)")
        print()
        print(examples(device, endpoint))
        return 0

    return _run(args, add)


def list_command(args: argparse.Namespace) -> int:
    def listing(args: argparse.Namespace) -> int:
        rows = list_devices(_iot(args), _policy(args, required=False))
        if not rows:
            print("no devices")
            return 0
        width = max(len(r["thing"]) for r in rows)
        policy_width = max(len(r["policy"]) for r in rows)
        print(f"{'THING':<{width}}  {'POLICY':<{policy_width}}  CERTIFICATES")
        for row in rows:
            print(f"{row['thing']:<{width}}  {row['policy']:<{policy_width}}  {row['certificates']}")
        return 0

    return _run(args, listing)


def remove_command(args: argparse.Namespace) -> int:
    def remove(args: argparse.Namespace) -> int:
        for line in deprovision(_iot(args), args.thing, _policy(args, required=False)):
            print(line)
        print(f"the local files of {args.thing} (its private key) are not deleted: delete them if you kept none")
        return 0

    return _run(args, remove)


def _pairings(args: argparse.Namespace) -> Any:
    from clawline.cli.stack import aws_client, describe_stack
    from clawline.store.pairings import DynamoDBPairings

    name = args.table
    if not name:
        name = describe_stack(args.stack, aws_client("cloudformation", region=args.region)).output("StateTableName")
    return DynamoDBPairings(aws_client("dynamodb", region=args.region, endpoint_url=args.endpoint_url), name)


def pair_command(args: argparse.Namespace) -> int:
    def pair(args: argparse.Namespace) -> int:
        thing = check_thing_name(args.thing)
        _pairings(args).pair(thing, args.user)
        print(f"{thing} is paired with user {args.user}: its messages join that user's conversations")
        return 0

    return _run(args, pair)


def unpair_command(args: argparse.Namespace) -> int:
    def unpair(args: argparse.Namespace) -> int:
        thing = check_thing_name(args.thing)
        if not _pairings(args).unpair(thing):
            raise DeviceError(f"{thing} is not paired")
        print(f"{thing} is no longer paired: it talks as itself again")
        return 0

    return _run(args, unpair)
