"""Provider secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`.

PROVIDER_SECRETS_KEY is a comma-separated list of Fernet keys (settings.py derives one
from SECRET_KEY in development). MultiFernet encrypts with the first and decrypts with
any, so a key is rotated without downtime: put the new key first, keep the old ones
after it, run `manage.py rotatesecrets`, then drop the old keys.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


@cache
def _fernet(keys: str) -> MultiFernet:
    return MultiFernet([Fernet(key.strip().encode()) for key in keys.split(",") if key.strip()])


def _current() -> MultiFernet:
    return _fernet(settings.PROVIDER_SECRETS_KEY)


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode() if plaintext else ""


def decrypt(token: str) -> str:
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "A provider secret cannot be decrypted with any key in PROVIDER_SECRETS_KEY: "
            "the key it was stored with was removed. Put that key back (after the first), "
            "or load the routes file again."
        ) from exc


def rotate(token: str) -> str:
    """The same secret encrypted under the first key (unchanged when it already is)."""
    if not token:
        return ""
    current = _current()
    first = current._fernets[0]  # MultiFernet keeps them in order; no public accessor
    try:
        first.decrypt(token.encode())
    except InvalidToken:
        try:
            return current.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError(
                "A provider secret cannot be decrypted with any key in PROVIDER_SECRETS_KEY."
            ) from exc
    return token
