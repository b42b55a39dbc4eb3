"""Field encryption for what is stored at rest: message text and PII, bound to whose data it is.

Two ciphers behind one interface (``FieldCipher``), chosen by ``CLAWLINE_ENCRYPTION``:

- ``kms``: envelope encryption. KMS ``GenerateDataKey`` (with the encryption context) gives a data key;
  AES-256-GCM encrypts the field with the same context as additional authenticated data. Only the
  KMS-encrypted data key is stored, next to the ciphertext. Decrypting needs KMS *and* the same context,
  so a record copied under another user's key does not decrypt.
- ``fernet``: a master key read from Secrets Manager; a Fernet key is derived per context with HKDF, so a
  wrong context fails the same way. For deployments that do not want a KMS call on cold paths.

The encryption context is ``{"tenant_id", "user_id", "conversation_id"}``: the tenant is the bot, the user
is the principal that owns the conversation.

Conversations use **one data key each** (``conversation_key``): generated once, when the conversation starts,
and carried KMS-encrypted with every turn item, so the fields of a turn are sealed with ``seal`` (AES-GCM, no
per-field key blob). A warm container holds the plaintext key (cached by its ciphertext and context); a cold
one pays one ``Decrypt`` per conversation it meets, never one per stored turn. ``encrypt``/``decrypt`` (one data
key per context for a few minutes, like the AWS Encryption SDK's caching CMM) remain for other records.

Examples
--------
>>> from cryptography.fernet import Fernet
>>> cipher = FernetCipher(Fernet.generate_key())
>>> token = cipher.encrypt("hi", {"user_id": "u1"})
>>> cipher.decrypt(token, {"user_id": "u1"})
'hi'
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from clawline.errors import ClawlineError, ConfigurationError, RetryableError
from clawline.security import FERNET_PREFIX, KMS_PREFIX, is_encrypted

if TYPE_CHECKING:
    # Fernet and HKDF (with cryptography's HMAC, padding and hash modules: about 6 ms of a cold start) load with
    # the first ``FernetCipher``: the default KMS envelope needs only AES-GCM.
    from cryptography.fernet import Fernet

__all__ = ["DecryptionError", "FernetCipher", "FieldCipher", "KmsEnvelopeCipher", "is_encrypted"]
#: How long one data key may encrypt fields of one context, and how many, before a new one is asked for.
DATA_KEY_MAX_AGE_SECONDS = 300.0
DATA_KEY_MAX_USES = 1000
CACHE_ENTRIES = 512

Context = Mapping[str, str]


class DecryptionError(ClawlineError):
    """Stored data does not decrypt under this context: tampered, copied to another owner, or the wrong key."""

    code = "decryption_failed"
    http_status = 500


class FieldCipher(Protocol):
    def encrypt(self, plaintext: str, context: Context) -> str: ...

    def decrypt(self, token: str, context: Context) -> str: ...


def _aad(context: Context) -> bytes:
    # Sorted, compact JSON: the same context always gives the same bytes.
    return json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _Lru:
    def __init__(self, size: int) -> None:
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)


class KmsEnvelopeCipher:
    def __init__(self, kms_client: Any, key_id: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._kms = kms_client
        self._key_id = key_id
        self._clock = clock
        # context aad -> [plaintext key, encrypted key, created, uses]
        self._encrypt_keys = _Lru(CACHE_ENTRIES)
        self._decrypt_keys = _Lru(CACHE_ENTRIES)

    def _data_key(self, context: Context) -> tuple[bytes, bytes]:
        aad = _aad(context)
        entry = self._encrypt_keys.get(aad)
        now = self._clock()
        if entry is not None and now - entry[2] < DATA_KEY_MAX_AGE_SECONDS and entry[3] < DATA_KEY_MAX_USES:
            entry[3] += 1
            return entry[0], entry[1]
        try:
            resp = self._kms.generate_data_key(KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=dict(context))
        except ClientError as exc:
            raise RetryableError("encryption keys are unavailable", details={"code": _code(exc)}) from exc
        plaintext, blob = bytes(resp["Plaintext"]), bytes(resp["CiphertextBlob"])
        self._encrypt_keys.put(aad, [plaintext, blob, now, 1])
        self._decrypt_keys.put((blob, aad), plaintext)
        return plaintext, blob

    def conversation_key(self, context: Context, sealed_key: bytes | None) -> tuple[bytes, bytes]:
        """The conversation's (plaintext, KMS-encrypted) data key: ``sealed_key`` opened, or a new key when None."""
        aad = _aad(context)
        if sealed_key is None:
            try:
                resp = self._kms.generate_data_key(
                    KeyId=self._key_id, KeySpec="AES_256", EncryptionContext=dict(context)
                )
            except ClientError as exc:
                raise RetryableError("encryption keys are unavailable", details={"code": _code(exc)}) from exc
            plaintext, blob = bytes(resp["Plaintext"]), bytes(resp["CiphertextBlob"])
            self._decrypt_keys.put((blob, aad), plaintext)
            return plaintext, blob
        return self._open_key(sealed_key, aad, context), sealed_key

    def _open_key(self, blob: bytes, aad: bytes, context: Context) -> bytes:
        key: bytes | None = self._decrypt_keys.get((blob, aad))
        if key is None:
            try:
                resp = self._kms.decrypt(CiphertextBlob=blob, EncryptionContext=dict(context), KeyId=self._key_id)
            except ClientError as exc:
                if _code(exc) in ("InvalidCiphertextException", "IncorrectKeyException", "AccessDeniedException"):
                    raise DecryptionError("data key does not decrypt under this context") from exc
                raise RetryableError("encryption keys are unavailable", details={"code": _code(exc)}) from exc
            key = bytes(resp["Plaintext"])
            self._decrypt_keys.put((blob, aad), key)
        return key

    @staticmethod
    def seal(key: bytes, plaintext: str, context: Context) -> bytes:
        """``plaintext`` sealed with a conversation key (``conversation_key``): nonce + AES-GCM ciphertext, raw
        bytes (a DynamoDB binary attribute, a third smaller than base64); the context is the associated data."""
        nonce = os.urandom(12)
        return nonce + AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), _aad(context))

    @staticmethod
    def unseal(key: bytes, sealed: bytes, context: Context) -> str:
        try:
            return AESGCM(key).decrypt(sealed[:12], sealed[12:], _aad(context)).decode("utf-8")
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("ciphertext does not decrypt under this context") from exc

    def encrypt(self, plaintext: str, context: Context) -> str:
        key, blob = self._data_key(context)
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), _aad(context))
        return KMS_PREFIX + ".".join((_b64(blob), _b64(nonce), _b64(sealed)))

    def decrypt(self, token: str, context: Context) -> str:
        if not token.startswith(KMS_PREFIX):
            raise DecryptionError("not a KMS envelope")
        try:
            blob_b64, nonce_b64, sealed_b64 = token[len(KMS_PREFIX) :].split(".")
            blob, nonce, sealed = _unb64(blob_b64), _unb64(nonce_b64), _unb64(sealed_b64)
        except (ValueError, binascii.Error) as exc:
            raise DecryptionError("malformed envelope") from exc
        aad = _aad(context)
        key = self._open_key(blob, aad, context)
        try:
            return AESGCM(key).decrypt(nonce, sealed, aad).decode("utf-8")
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("ciphertext does not decrypt under this context") from exc


class FernetCipher:
    def __init__(self, master_key: bytes | str) -> None:
        raw = master_key.encode("ascii") if isinstance(master_key, str) else master_key
        try:
            self._master = base64.urlsafe_b64decode(raw)
        except (ValueError, binascii.Error) as exc:
            raise ConfigurationError("the Fernet key is not urlsafe base64") from exc
        if len(self._master) != 32:
            raise ConfigurationError("the Fernet key must be 32 bytes (Fernet.generate_key())")
        self._keys = _Lru(CACHE_ENTRIES)

    def _fernet(self, context: Context) -> Fernet:
        from cryptography.fernet import Fernet
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        aad = _aad(context)
        fernet: Fernet | None = self._keys.get(aad)
        if fernet is None:
            derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"clawline-field:" + aad).derive(
                self._master
            )
            fernet = Fernet(base64.urlsafe_b64encode(derived))
            self._keys.put(aad, fernet)
        return fernet

    def encrypt(self, plaintext: str, context: Context) -> str:
        return FERNET_PREFIX + self._fernet(context).encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, context: Context) -> str:
        from cryptography.fernet import InvalidToken

        if not token.startswith(FERNET_PREFIX):
            raise DecryptionError("not a Fernet token")
        try:
            return self._fernet(context).decrypt(token[len(FERNET_PREFIX) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise DecryptionError("ciphertext does not decrypt under this context") from exc


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
