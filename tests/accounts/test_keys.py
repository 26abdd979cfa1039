import pytest
from django.test import override_settings

from accounts import keys
from accounts.models import APIKey
from accounts.selectors import api_key_by_secret


def test_secret_has_prefix_and_32_random_bytes():
    secret = keys.new_secret()
    assert secret.startswith("jinf_")
    assert len(secret) - len("jinf_") >= 43  # 32 bytes, URL-safe base64
    assert keys.new_secret() != secret


@override_settings(JINF_KEY_PREFIX="acme_")
def test_prefix_comes_from_setting():
    assert keys.new_secret().startswith("acme_")


def test_digest_is_keyed():
    with override_settings(API_KEY_DIGEST_SECRET="one"):
        a = keys.digest("jinf_x")
    with override_settings(API_KEY_DIGEST_SECRET="two"):
        b = keys.digest("jinf_x")
    assert a != b and len(a) == 64


def test_only_digest_and_prefix_are_stored(tenancy):
    secret = tenancy.owner_key.secret
    row = APIKey.objects.filter(pk=tenancy.owner_key.key.pk).values().get()
    for value in row.values():
        assert secret not in str(value)
    assert row["digest"] == keys.digest(secret)
    assert secret.startswith(row["prefix"]) and len(row["prefix"]) < len(secret) // 2


def test_lookup_by_secret(tenancy):
    assert api_key_by_secret(tenancy.owner_key.secret) == tenancy.owner_key.key
    assert api_key_by_secret(tenancy.owner_key.secret + "x") is None
    assert api_key_by_secret("") is None


@pytest.mark.parametrize("bad", ["", " "])
def test_blank_secret_is_unknown(db, bad):
    assert api_key_by_secret(bad) is None
