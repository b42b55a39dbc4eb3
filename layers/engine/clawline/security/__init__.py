"""Security utilities shared by every function: log masking, field encryption and per-principal rate limits."""

#: Stored values starting with one of these are ciphertexts (``clawline.security.encryption``). Kept here, free
#: of imports, so the stores can tell without loading the cryptography package.
KMS_PREFIX = "kms1:"
FERNET_PREFIX = "fer1:"
ENCRYPTED_PREFIXES = (KMS_PREFIX, FERNET_PREFIX)


def is_encrypted(value: str) -> bool:
    return value.startswith(ENCRYPTED_PREFIXES)
