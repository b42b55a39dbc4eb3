"""S13, S14, S15: secrets are read by name at run time, logs never carry tokens or PII, stored text is encrypted
under its owner's context.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from clawline import composition
from clawline.messages import Channel, InboundMessage
from clawline.security.encryption import DecryptionError, FernetCipher, KmsEnvelopeCipher
from clawline.security.masking import mask_text
from tests.functional.conftest import Stack
from tests.helpers.aws import client
from tests.helpers.events import load_event
from tests.helpers.lambda_context import lambda_context
from tests.helpers.tokens import Issuer, hs256_secret_token
from tests.security.conftest import LogCapture, bearer, invoke_mqtt, invoke_ws, mqtt_event, ws_connect, ws_message

JWT_SHAPED = re.compile(r"eyJ[\w-]+\.[\w-]+\.")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def test_s13_hs256_secret_is_read_from_secrets_manager_by_name_and_cached(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    import authorizer

    secret = "a-long-random-shared-secret-for-hs256-0123456789"
    secrets = client("secretsmanager", stack.endpoint)
    secrets.create_secret(Name="clawline/jwt-s13", SecretString=secret)
    monkeypatch.setenv("CLAWLINE_JWT_ISSUER", "https://issuer.clawline.test/")
    monkeypatch.setenv("CLAWLINE_JWT_AUDIENCE", "clawline")
    monkeypatch.setenv("CLAWLINE_JWT_ALGORITHMS", "HS256")
    monkeypatch.setenv("CLAWLINE_JWT_SECRET_NAME", "clawline/jwt-s13")
    monkeypatch.delenv("CLAWLINE_JWKS_URL", raising=False)
    composition.reset()
    reads: list[str] = []
    from botocore.client import BaseClient

    original_call = BaseClient._make_api_call

    def counting_call(self: Any, operation_name: str, api_params: Any) -> Any:
        if operation_name == "GetSecretValue":
            reads.append(api_params["SecretId"])
        return original_call(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting_call)
    from aws_lambda_powertools.utilities import parameters

    parameters.clear_caches()
    claims = Issuer().claims("alice")
    event = load_event("authorizer/http_request.json")
    for _ in range(3):
        event["headers"]["authorization"] = f"Bearer {hs256_secret_token(secret, claims)}"
        assert authorizer.handler(event, lambda_context("clawline-authorizer"))["isAuthorized"] is True
        composition.reset()  # a new verifier each time: only Powertools' max_age cache can spare the reads
    assert reads == ["clawline/jwt-s13"]
    event["headers"]["authorization"] = (
        f"Bearer {hs256_secret_token('not-the-secret-but-long-enough-0123456789', claims)}"
    )
    assert authorizer.handler(event, lambda_context("clawline-authorizer")) == {"isAuthorized": False}
    parameters.clear_caches()


def test_s13_an_ssm_secret_name_is_a_configuration_error_not_a_read(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template grants Secrets Manager only: an ``ssm:`` name is refused before any AWS call (issue 17.6)."""
    import authorizer
    from clawline.errors import ConfigurationError
    from local.template import Template

    secret = "a-long-random-shared-secret-for-hs256-0123456789"
    client("ssm", stack.endpoint).put_parameter(Name="/clawline/jwt", Value=secret, Type="SecureString")
    monkeypatch.setenv("CLAWLINE_JWT_ISSUER", "https://issuer.clawline.test/")
    monkeypatch.setenv("CLAWLINE_JWT_AUDIENCE", "clawline")
    monkeypatch.setenv("CLAWLINE_JWT_ALGORITHMS", "HS256")
    monkeypatch.setenv("CLAWLINE_JWT_SECRET_NAME", "ssm:/clawline/jwt")
    monkeypatch.delenv("CLAWLINE_JWKS_URL", raising=False)
    composition.reset()
    event = load_event("authorizer/http_request.json")
    event["headers"]["authorization"] = f"Bearer {hs256_secret_token(secret, Issuer().claims('alice'))}"
    with pytest.raises(ConfigurationError, match="Secrets Manager"):
        authorizer.handler(event, lambda_context("clawline-authorizer"))
    composition.reset()
    pattern = Template.read().data["Parameters"]["JwtSecretName"]["AllowedPattern"]
    assert not re.fullmatch(pattern, "ssm:/clawline/jwt")
    assert re.fullmatch(pattern, "clawline/jwt-prod") and re.fullmatch(pattern, "")


def _sensitive(text: str) -> list[str]:
    problems = []
    if JWT_SHAPED.search(text):
        problems.append("jwt")
    if re.search(r"(?i)authorization\W+bearer", text):
        problems.append("authorization header")
    if EMAIL.search(text):
        problems.append("email")
    if "4111 1111 1111 1111" in text or "4111111111111111" in text:
        problems.append("card")
    if "+44 20 7946 0958" in text:
        problems.append("phone")
    return problems


PII_TEXT = "I am ana@example.com, card 4111 1111 1111 1111, call +44 20 7946 0958"


def test_s14_logs_of_every_handler_hold_no_tokens_or_pii(
    stack: Stack, issuer: Issuer, http: TestClient, logs: LogCapture, capsys: pytest.CaptureFixture[str]
) -> None:
    import authorizer

    token = issuer.token("alice")
    # HTTP: a good and a bad request carrying PII and the token.
    http.post("/v1/messages", json={"text": PII_TEXT}, headers=bearer(token))
    http.post("/v1/messages", json={"text": PII_TEXT, "email": "ana@example.com"}, headers=bearer(token))
    http.post("/v1/messages", json={"text": PII_TEXT}, headers=bearer(token + "tampered"))
    # Authorizer: accepted and refused.
    event = load_event("authorizer/http_request.json")
    event["headers"]["authorization"] = f"Bearer {token}"
    authorizer.handler(event, lambda_context("clawline-authorizer"))
    event["headers"]["authorization"] = f"Bearer {token[:-3]}abc"
    authorizer.handler(event, lambda_context("clawline-authorizer"))
    # WebSocket and MQTT with PII in the text, and a refused one that echoes the input in its error.
    invoke_ws(ws_connect("conn-s14", "alice"))
    invoke_ws(ws_message("conn-s14", {"text": PII_TEXT, "message_id": "s14"}))
    invoke_ws(ws_message("conn-s14", f'{{"text": "{PII_TEXT}", "bad json'))
    invoke_mqtt(mqtt_event({"text": PII_TEXT, "message_id": "s14m"}))
    invoke_mqtt(mqtt_event({"text": PII_TEXT, "message_id": "s14n", "device_id": "ana@example.com"}))

    written = logs.text()
    assert written.count("\n") >= 5, "the handlers logged nothing: this test would prove nothing"
    assert _sensitive(written) == [], written
    assert _sensitive(capsys.readouterr().out) == []


def test_s14_masking_covers_exceptions_and_plain_loggers(logs: LogCapture) -> None:
    import logging

    from clawline.observability import logger

    try:
        raise ValueError(f"bad input from ana@example.com with Bearer {'eyJhbGciOi' + 'J9.eyJzdWIiOiIxIn0.c2ln'}")
    except ValueError:
        logger.exception("failed")
    assert "ValueError" in logs.text()
    assert _sensitive(logs.text()) == []

    record = logging.LogRecord(
        "plugin", logging.INFO, __file__, 1, "user %s paid with %s", ("ana@example.com", "4111-1111-1111-1111"), None
    )
    from clawline.security.masking import MaskingFilter

    MaskingFilter().filter(record)
    assert record.getMessage() == "user [EMAIL] paid with [CARD]"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("born 1990-03-12, or 12/03/1990, or 12 March 1990", "born [DATE], or [DATE], or [DATE]"),
        ("SSN 123-45-6789 and NI AB 12 34 56 C", "SSN [NATIONAL_ID] and NI [NATIONAL_ID]"),
        ("call (555) 123-4567", "call [PHONE]"),
        ("order 1234567890123 at 1795752000", "order 1234567890123 at 1795752000"),  # not Luhn, not a phone
        ("password=hunter22", "password=[SECRET]"),
        ("AKIAABCDEFGHIJKLMNOP", "[TOKEN]"),
    ],
)
def test_s14_mask_recognises_each_kind_of_pii(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.fixture
def kms(stack: Stack) -> tuple[Any, str]:
    kms_client = client("kms", stack.endpoint)
    key_arn = kms_client.create_key(Description="clawline test")["KeyMetadata"]["Arn"]
    return kms_client, key_arn


def test_s15_envelope_encryption_is_bound_to_the_owner_context(kms: tuple[Any, str]) -> None:
    kms_client, key_arn = kms
    cipher = KmsEnvelopeCipher(kms_client, key_arn)
    alice = {"tenant_id": "default", "user_id": "alice", "conversation_id": "c1"}
    token = cipher.encrypt("my address is 1 Main St", alice)
    assert "Main St" not in token
    assert cipher.decrypt(token, alice) == "my address is 1 Main St"
    for wrong in ({**alice, "user_id": "bob"}, {**alice, "tenant_id": "other"}, {**alice, "conversation_id": "c2"}):
        with pytest.raises(DecryptionError):
            KmsEnvelopeCipher(kms_client, key_arn).decrypt(token, wrong)  # a cold cache: KMS itself must refuse
        with pytest.raises(DecryptionError):
            cipher.decrypt(token, wrong)  # a warm cache: AES-GCM's associated data must refuse
    tampered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    with pytest.raises(DecryptionError):
        cipher.decrypt(tampered, alice)


def test_s15_fernet_option_is_bound_to_the_owner_context() -> None:
    cipher = FernetCipher(Fernet.generate_key())
    alice = {"tenant_id": "default", "user_id": "alice", "conversation_id": "c1"}
    token = cipher.encrypt("secret plans", alice)
    assert cipher.decrypt(token, alice) == "secret plans"
    with pytest.raises(DecryptionError):
        cipher.decrypt(token, {**alice, "user_id": "bob"})


def _encryption_on(stack: Stack, kms: tuple[Any, str], monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", stack.endpoint)
    monkeypatch.setenv("CLAWLINE_ENCRYPTION", mode)
    if mode == "kms":
        monkeypatch.setenv("CLAWLINE_KMS_KEY_ARN", kms[1])
    else:
        client("secretsmanager", stack.endpoint).create_secret(
            Name=f"clawline/fernet-{stack.tables['StateTable']}", SecretString=Fernet.generate_key().decode()
        )
        monkeypatch.setenv("CLAWLINE_FERNET_SECRET_NAME", f"clawline/fernet-{stack.tables['StateTable']}")
    composition.reset()


@pytest.mark.parametrize("mode", ["kms", "fernet"])
def test_s15_stored_transcripts_are_encrypted_and_a_copy_under_another_owner_does_not_decrypt(
    stack: Stack, kms: tuple[Any, str], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    _encryption_on(stack, kms, monkeypatch, mode)
    reply = invoke_mqtt(
        mqtt_event(
            {"text": "my card is 4111 1111 1111 1111", "message_id": "s15", "conversation_id": "alice-speaker"},
            thing="alice-speaker",
        )
    )
    assert reply["status"] == "replied"

    table = stack.tables["StateTable"]
    raw = json.dumps(stack.dynamodb().scan(TableName=table)["Items"], default=repr)
    assert "4111" not in raw and "my card" not in raw
    store = composition.conversation_store()
    turns = store.list_turns("alice-speaker", "thing:alice-speaker").turns
    assert turns[0].user_text == "my card is 4111 1111 1111 1111"

    # An insider copies Alice's encrypted turn into Bob's conversation: it must not decrypt there.
    items = stack.dynamodb().scan(TableName=table)["Items"]
    turn = next(i for i in items if i["sk"]["S"].startswith("T#"))
    stack.dynamodb().put_item(TableName=table, Item={**turn, "pk": {"S": "C#user:bob#alice-speaker"}})
    with pytest.raises(DecryptionError):
        store.list_turns("alice-speaker", "user:bob")
    assert base64  # keep import used for readers comparing stored bytes by hand


@pytest.mark.parametrize("mode", ["kms", "fernet"])
def test_s15_stored_replies_are_sealed_and_a_replay_still_gets_the_first_reply(
    stack: Stack, kms: tuple[Any, str], monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    _encryption_on(stack, kms, monkeypatch, mode)
    runner = composition.turn_runner()
    message = InboundMessage(
        message_id="s15-replay",
        channel=Channel.HTTP,
        conversation_id="c-s15",
        sender="alice",
        text="call me on 0611223344, my card is 4111 1111 1111 1111",
    )
    first, fresh = runner.run_once(message)
    assert fresh and first.entities, "the reply carries what the message held (its entities)"

    # The reply a replay answers is stored with the turn (there is no other idempotency record): sealed too.
    raw = json.dumps(stack.dynamodb().scan(TableName=stack.tables["StateTable"])["Items"], default=repr)
    assert "4111" not in raw and "0611223344" not in raw
    for text in (m.text for m in first.messages):
        assert text not in raw

    replayed, fresh = runner.run_once(message)
    assert not fresh
    assert replayed == first
