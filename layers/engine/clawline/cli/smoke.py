"""``clawline smoke``: proves a deployed stack (or ``clawline dev``) answers on every protocol, end to end.

One run, in order: a token (``--token``, or a temporary user of the Cognito pool when the stack's issuer is
Cognito), the health check, one HTTP turn, one WebSocket turn, and one MQTT turn from a device it provisions
for the run and removes afterwards (with the stack's device policy; mutual TLS on 8883 in AWS, plain MQTT
against a local broker). Every check is reported in a table; the exit status is 1 if any failed, 2 if the
command was not told enough to run.

Endpoints come from the stack's outputs (``--stack``: one DescribeStacks, plus DescribeEndpoint for the IoT data
endpoint) and each can be overridden (``--http-url``, ``--ws-url``, ``--mqtt-endpoint``), which is how the test
suite runs this command against ``clawline dev``.

What a run costs: three turns (each billed like a user's); with a device 6 IoT control-plane requests to provision
it and 9 to remove it (plus DescribeEndpoint with ``--stack``); with a Cognito test user 6 Cognito requests.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

#: ``iss`` of a Cognito user pool's tokens: https://cognito-idp.<region>.amazonaws.com/<pool id>
COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.([a-z0-9-]+)\.amazonaws\.com/([a-z0-9-]+_[0-9A-Za-z]+)/?$")
DEFAULT_TIMEOUT = 30.0
TOKEN_VARIABLE = "CLAWLINE_SMOKE_TOKEN"  # noqa: S105 - the variable's name, not a secret


def _seconds(value: str) -> float:
    seconds = float(value)
    if not 0 < seconds <= 900:
        raise argparse.ArgumentTypeError(f"wants seconds between 0 and 900, got {value}")
    return seconds


class SmokeConfigError(RuntimeError):
    """The command was not told enough to run (no endpoint, no token...)."""


@dataclass
class Target:
    http_url: str | None = None
    ws_url: str | None = None
    mqtt_url: str | None = None  # mqtts://host:8883 (AWS IoT, mutual TLS) or mqtt://host:port (a local broker)
    device_policy: str | None = None
    issuer: str | None = None
    audience: str | None = None


@dataclass
class Check:
    name: str
    ok: bool
    seconds: float
    detail: str


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def run(self, name: str, action: Callable[[], str]) -> bool:
        started = time.monotonic()
        try:
            detail, ok = action(), True
        except Exception as exc:  # noqa: BLE001 - every failure is a row of the report, never a traceback
            detail, ok = f"{type(exc).__name__}: {exc}", False
        self.checks.append(Check(name, ok, time.monotonic() - started, detail))
        return ok

    def skip(self, name: str, reason: str) -> None:
        self.checks.append(Check(name, False, 0.0, f"not run: {reason}"))

    def table(self) -> str:
        width = max([len(c.name) for c in self.checks] + [5])
        lines = [f"{'CHECK':<{width}}  RESULT  {'TIME':>8}  DETAIL"]
        for c in self.checks:
            result = "ok" if c.ok else "FAIL"
            detail = c.detail if len(c.detail) <= 100 else c.detail[:97] + "..."
            lines.append(f"{c.name:<{width}}  {result:<6}  {c.seconds * 1000:>5.0f} ms  {detail}")
        passed = sum(c.ok for c in self.checks)
        lines.append(f"{passed}/{len(self.checks)} checks passed")
        return "\n".join(lines)


# ---------------------------------------------------------------- token


def cognito_pool(issuer: str | None) -> tuple[str, str] | None:
    """(region, user pool id) when ``issuer`` is a Cognito user pool's."""
    match = COGNITO_ISSUER.match(issuer or "")
    return (match.group(1), match.group(2)) if match else None


def _secret_hash(username: str, client_id: str, client_secret: str) -> str:
    import base64
    import hashlib
    import hmac

    digest = hmac.new(client_secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class CognitoTestUser:
    """A user created for one run in the pool and signed in with ADMIN_USER_PASSWORD_AUTH. :meth:`sign_in` gives
    its ID token (the token whose ``aud`` is the app client id); :meth:`delete` removes the user, and must run
    whatever happened once :meth:`sign_in` was called.

    The app client must allow ALLOW_ADMIN_USER_PASSWORD_AUTH; the caller needs cognito-idp:DescribeUserPool,
    DescribeUserPoolClient, AdminCreateUser, AdminSetUserPassword, AdminInitiateAuth and AdminDeleteUser.
    """

    def __init__(self, cognito: Any, pool_id: str, client_id: str) -> None:
        self.cognito, self.pool_id, self.client_id = cognito, pool_id, client_id
        self.username: str | None = None

    def sign_in(self) -> str:
        import secrets

        cognito, pool_id, client_id = self.cognito, self.pool_id, self.client_id
        pool = cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        suffix = uuid.uuid4().hex[:12]
        # A pool that signs users in by e-mail takes only an e-mail address as the user name.
        email_names = "email" in (pool.get("UsernameAttributes") or [])
        username = f"clawline-smoke-{suffix}@example.com" if email_names else f"clawline-smoke-{suffix}"
        # Meets any password policy Cognito allows (upper, lower, digit, symbol; at most 99 characters).
        password = f"Aa1!{secrets.token_urlsafe(24)}"
        app_client = cognito.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
        cognito.admin_create_user(
            UserPoolId=pool_id, Username=username, TemporaryPassword=password, MessageAction="SUPPRESS"
        )
        self.username = username
        cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
        parameters = {"USERNAME": username, "PASSWORD": password}
        if app_client.get("ClientSecret"):
            parameters["SECRET_HASH"] = _secret_hash(username, client_id, app_client["ClientSecret"])
        result = cognito.admin_initiate_auth(
            UserPoolId=pool_id, ClientId=client_id, AuthFlow="ADMIN_USER_PASSWORD_AUTH", AuthParameters=parameters
        )
        tokens = result.get("AuthenticationResult") or {}
        if "IdToken" not in tokens:
            raise SmokeConfigError(f"Cognito answered with a challenge ({result.get('ChallengeName')}), not tokens")
        return str(tokens["IdToken"])

    def delete(self) -> str:
        if self.username is None:
            return "no user was created"
        self.cognito.admin_delete_user(UserPoolId=self.pool_id, Username=self.username)
        deleted, self.username = self.username, None
        return f"deleted {deleted}"


# ---------------------------------------------------------------- the checks


def check_health(http_url: str, timeout: float) -> str:
    import httpx

    response = httpx.get(f"{http_url.rstrip('/')}/health", timeout=timeout)
    body = response.json()
    if response.status_code != 200 or body.get("status") != "ok":
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:200]}")
    return f"200 {body.get('status')} version {body.get('version', '?')}"


def _first_text(messages: Any) -> str:
    texts = [m.get("text", "") for m in messages or [] if isinstance(m, dict)]
    if not texts:
        raise AssertionError("the reply has no message")
    return repr(texts[0][:60])


def check_http(http_url: str, token: str, text: str, timeout: float) -> str:
    import httpx

    response = httpx.post(
        f"{http_url.rstrip('/')}/v1/messages",
        json={"text": text, "conversation_id": f"smoke-{uuid.uuid4().hex[:12]}"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )
    if response.status_code != 200:
        raise AssertionError(f"HTTP {response.status_code}: {response.text[:200]}")
    return f"200 {_first_text(response.json().get('replies'))}"


def check_websocket(ws_url: str, token: str, text: str, timeout: float) -> str:
    from websockets.sync.client import connect

    # The token goes both ways a client may send it (query string for browsers, header otherwise), so the check
    # holds whichever identity source the stage's authorizer uses.
    url = f"{ws_url}{'&' if '?' in ws_url else '?'}{urlencode({'token': token})}"
    with connect(url, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=timeout) as ws:
        ws.send(json.dumps({"text": text}))
        frame = json.loads(ws.recv(timeout=timeout))
    if frame.get("type") != "reply":
        raise AssertionError(f"expected a reply frame, got {json.dumps(frame)[:200]}")
    return _first_text(frame.get("messages"))


@dataclass
class MqttIdentity:
    client_id: str
    certificate: Path | None = None
    private_key: Path | None = None


def check_mqtt(mqtt_url: str, identity: MqttIdentity, text: str, timeout: float, ca_file: str | None) -> str:
    import queue
    import ssl
    import threading

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    parts = urlsplit(mqtt_url)
    secure = parts.scheme == "mqtts"
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise SmokeConfigError(f"--mqtt-endpoint wants mqtt://HOST:PORT or mqtts://HOST:PORT, got {mqtt_url!r}")
    thing = identity.client_id
    message_id = f"smoke-{uuid.uuid4().hex[:12]}"
    replies: queue.Queue[dict[str, Any]] = queue.Queue()
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=thing)
    if secure:
        if identity.certificate is None or identity.private_key is None:
            raise SmokeConfigError("mutual TLS needs a device certificate: give the stack's device policy")
        context = ssl.create_default_context(cafile=ca_file)
        context.load_cert_chain(str(identity.certificate), str(identity.private_key))
        client.tls_set_context(context)
    refused: list[str] = []

    def on_connect(c: Any, _userdata: Any, _flags: Any, reason: Any, _properties: Any) -> None:
        if reason.is_failure:
            refused.append(str(reason))  # paho reconnects; IoT Core may need a moment for a new certificate
            return
        c.subscribe(f"clawline/{thing}/out", qos=1)

    client.on_connect = on_connect
    client.on_subscribe = lambda *_a: subscribed.set()
    client.reconnect_delay_set(min_delay=1, max_delay=2)

    def on_message(_c: Any, _u: Any, msg: Any) -> None:
        try:
            replies.put(json.loads(msg.payload))
        except ValueError:
            replies.put({"type": "unreadable", "payload": msg.payload[:200].decode(errors="replace")})

    client.on_message = on_message
    client.connect(parts.hostname, parts.port or (8883 if secure else 1883))
    client.loop_start()
    try:
        if not subscribed.wait(timeout):
            why = f" (connection refused: {refused[-1]})" if refused else ""
            raise AssertionError(f"could not connect and subscribe to clawline/{thing}/out within {timeout:.0f} s{why}")
        payload = json.dumps({"text": text, "message_id": message_id})
        client.publish(f"clawline/{thing}/in", payload, qos=1).wait_for_publish(timeout)
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = replies.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no reply on clawline/{thing}/out within {timeout:.0f} s") from None
            if reply.get("message_id") == message_id:
                break
        if reply.get("type") != "reply":
            raise AssertionError(f"expected a reply, got {json.dumps(reply)[:200]}")
        return f"{'mutual TLS' if secure else 'plain MQTT'}, {_first_text(reply.get('messages'))}"
    finally:
        client.disconnect()
        client.loop_stop()


# ---------------------------------------------------------------- the run


def resolve_target(args: argparse.Namespace) -> Target:
    from clawline.cli.stack import aws_client, describe_stack

    target = Target()
    if args.stack:
        stack = describe_stack(args.stack, aws_client("cloudformation", region=args.region))
        target = Target(
            http_url=stack.outputs.get("HttpApiUrl"),
            ws_url=stack.outputs.get("WebSocketUrl"),
            device_policy=stack.outputs.get("DevicePolicyName"),
            issuer=stack.parameters.get("JwtIssuer"),
            audience=stack.parameters.get("JwtAudience"),
        )
        if not args.mqtt_endpoint:
            from clawline.cli.device import MQTT_TLS_PORT, data_endpoint

            iot = aws_client("iot", region=args.region, endpoint_url=args.iot_endpoint_url)
            target.mqtt_url = f"mqtts://{data_endpoint(iot)}:{MQTT_TLS_PORT}"
    for attribute, value in (
        ("http_url", args.http_url),
        ("ws_url", args.ws_url),
        ("mqtt_url", args.mqtt_endpoint),
        ("device_policy", args.device_policy),
        ("issuer", args.issuer),
        ("audience", args.audience),
    ):
        if value:
            setattr(target, attribute, value)
    if not (target.http_url or target.ws_url or target.mqtt_url):
        raise SmokeConfigError("nothing to test: give --stack NAME, or --http-url / --ws-url / --mqtt-endpoint")
    return target


def run(args: argparse.Namespace, target: Target) -> Report:
    import os

    report = Report()
    timeout = float(args.timeout)
    # The environment keeps the token out of the process list and the shell history.
    given = args.token or os.environ.get(TOKEN_VARIABLE)
    if given:
        report.checks.append(Check("token", True, 0.0, "from --token" if args.token else f"from {TOKEN_VARIABLE}"))
        _run_checks(args, target, given, report, timeout)
        return report
    pool = cognito_pool(target.issuer)
    if pool is None or not target.audience:
        report.skip("token", f"no --token or {TOKEN_VARIABLE}, and the issuer is not a Cognito user pool")
        _run_checks(args, target, None, report, timeout)
        return report
    from clawline.cli.stack import aws_client

    region, pool_id = pool
    user = CognitoTestUser(aws_client("cognito-idp", region=region), pool_id, target.audience)
    tokens: list[str] = []

    def sign_in() -> str:
        tokens.append(user.sign_in())
        return f"temporary user of Cognito pool {pool_id}"

    try:
        report.run("token", sign_in)
        _run_checks(args, target, tokens[0] if tokens else None, report, timeout)
    finally:
        report.run("test user removed", user.delete)
    return report


def _run_checks(args: argparse.Namespace, target: Target, token: str | None, report: Report, timeout: float) -> None:
    if target.http_url:
        http_url = target.http_url
        report.run("health", lambda: check_health(http_url, timeout))
        if token:
            report.run("http", lambda: check_http(http_url, token, args.text, timeout))
        else:
            report.skip("http", "no token")
    else:
        report.skip("http", "no HTTP URL")
    if target.ws_url and token:
        ws_url = target.ws_url
        report.run("websocket", lambda: check_websocket(ws_url, token, args.text, timeout))
    else:
        report.skip("websocket", "no WebSocket URL" if not target.ws_url else "no token")
    if target.mqtt_url:
        _run_mqtt(args, target, target.mqtt_url, report, timeout)
    else:
        report.skip("mqtt", "no MQTT endpoint")


def _run_mqtt(args: argparse.Namespace, target: Target, mqtt_url: str, report: Report, timeout: float) -> None:
    thing = f"clawline-smoke-{uuid.uuid4().hex[:10]}"
    if not target.device_policy:
        if mqtt_url.startswith("mqtts://"):
            report.skip("mqtt", "no device policy to provision a device with (--stack or --device-policy)")
            return
        report.run("mqtt", lambda: check_mqtt(mqtt_url, MqttIdentity(thing), args.text, timeout, args.ca_file))
        return
    import tempfile

    from clawline.cli.device import deprovision, provision
    from clawline.cli.stack import aws_client

    policy = target.device_policy
    iot = aws_client("iot", region=args.region, endpoint_url=args.iot_endpoint_url)
    with tempfile.TemporaryDirectory(prefix="clawline-smoke-") as folder:
        provisioned: list[Any] = []

        def add() -> str:
            provisioned.append(provision(iot, thing, policy, Path(folder) / "device"))
            return f"{thing} with policy {policy}"

        if not report.run("device", add):
            report.skip("mqtt", "no device")
            return
        device = provisioned[0]
        identity = MqttIdentity(thing, device.files.certificate, device.files.private_key)
        try:
            report.run("mqtt", lambda: check_mqtt(mqtt_url, identity, args.text, timeout, args.ca_file))
        finally:
            report.run("device removed", lambda: _removed(deprovision(iot, thing, policy)))


def _removed(steps: list[str]) -> str:
    deleted = [step.removeprefix("deleted ").split(" ")[0] for step in steps if step.startswith("deleted ")]
    return f"deleted {' and '.join(deleted)}"


# ---------------------------------------------------------------- command line


def register(subparsers: Any) -> None:
    smoke = subparsers.add_parser(
        "smoke",
        help="prove a deployed stack answers on HTTP, WebSocket and MQTT",
        description=(__doc__ or "").split("\n\n")[0],
    )
    smoke.add_argument("--stack", help="read the endpoints, device policy and issuer from this stack's outputs")
    smoke.add_argument("--http-url", help="HTTP API base URL (overrides the stack's HttpApiUrl)")
    smoke.add_argument("--ws-url", help="WebSocket URL (overrides the stack's WebSocketUrl)")
    smoke.add_argument(
        "--mqtt-endpoint", help="mqtts://HOST:8883 (IoT Core, mutual TLS) or mqtt://HOST:PORT (a local broker)"
    )
    smoke.add_argument("--device-policy", help="IoT policy for the temporary device (overrides DevicePolicyName)")
    smoke.add_argument(
        "--token",
        help=f"bearer token (or {TOKEN_VARIABLE}; default: a temporary Cognito user when the issuer is Cognito)",
    )
    smoke.add_argument("--issuer", help="token issuer (overrides the stack's JwtIssuer), for the Cognito test user")
    smoke.add_argument(
        "--audience", help="app client id (overrides the stack's JwtAudience), for the Cognito test user"
    )
    smoke.add_argument("--iot-endpoint-url", help="IoT control-plane endpoint (default: AWS, or AWS_ENDPOINT_URL_IOT)")
    smoke.add_argument("--ca-file", help="CA bundle for the IoT data endpoint (default: the system's)")
    smoke.add_argument("--region", help="AWS region (default: the AWS CLI configuration)")
    smoke.add_argument("--text", default="hello", help="what each turn says (default: %(default)s)")
    smoke.add_argument("--timeout", type=_seconds, default=DEFAULT_TIMEOUT, help="seconds per check (default: 30)")
    smoke.set_defaults(handler=smoke_command)


def smoke_command(args: argparse.Namespace) -> int:
    from clawline.cli.stack import StackError

    try:
        target = resolve_target(args)
    except (SmokeConfigError, StackError) as exc:
        print(f"clawline smoke: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - credentials, network: say what, do not trace back
        print(f"clawline smoke: cannot read the stack: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    report = run(args, target)
    print(report.table())
    return 0 if report.ok else 1
