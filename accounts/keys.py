"""Key secrets: generation, the keyed digest we store, and the visible prefix we show."""

import hashlib
import hmac
import secrets

from django.conf import settings

SECRET_BYTES = 32
VISIBLE_CHARS = 8  # random characters kept in the visible prefix after JINF_KEY_PREFIX


def new_secret() -> str:
    """`jinf_` + 32 random bytes, URL-safe (43 characters)."""
    return settings.JINF_KEY_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    """HMAC-SHA256 of the secret under a server-side key: a leaked table reveals nothing."""
    key = settings.API_KEY_DIGEST_SECRET.encode()
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def visible_prefix(secret: str) -> str:
    return secret[: len(settings.JINF_KEY_PREFIX) + VISIBLE_CHARS]


def digests_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
