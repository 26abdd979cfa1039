"""Provider secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`.

The key is PROVIDER_SECRETS_KEY (a Fernet key) when set, else derived from SECRET_KEY
with HKDF, so a development setup needs nothing and production can rotate it separately.
"""

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


@cache
def _fernet(secret_key: str, explicit: str) -> Fernet:
    if explicit:
        return Fernet(explicit.encode())
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"jinf provider secrets"
    ).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def _current() -> Fernet:
    return _fernet(settings.SECRET_KEY, settings.PROVIDER_SECRETS_KEY)


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode() if plaintext else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "A provider secret cannot be decrypted: SECRET_KEY or PROVIDER_SECRETS_KEY "
            "changed since it was stored. Load the routes file again."
        ) from exc
