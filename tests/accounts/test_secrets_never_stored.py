"""No key secret is stored anywhere in the database or written to any log."""

import logging
from datetime import timedelta

import httpx
from django.apps import apps

from accounts.services import api_key_create, api_key_rotate
from proxy import auth
from tests.processes import manage


def all_stored_text() -> str:
    """Every value of every row of every table, as text."""
    parts = []
    for model in apps.get_models():
        for row in model.objects.values_list():
            parts.extend(str(v) for v in row)
    return "\n".join(parts)


def test_secrets_are_neither_stored_nor_logged(asgi_server, tenancy, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    auth._cache.clear()
    secrets = [tenancy.owner_key.secret, tenancy.member_key.secret]
    secrets.append(api_key_create(organization=tenancy.org, name="m", is_management=True).secret)
    secrets.append(api_key_rotate(key=tenancy.owner_key.key, grace=timedelta(minutes=5)).secret)
    cli = manage("mintkey", "--org", "org-a", "--credits", "1")
    secrets.append(cli.stdout.strip().splitlines()[-1])
    for secret in secrets:
        for path in ("/v1/models", "/v1/chat/completions"):
            httpx.get(asgi_server.url + path, headers={"Authorization": f"Bearer {secret}"})
            httpx.get(asgi_server.url + path, headers={"Authorization": f"Bearer {secret}x"})

    stored = all_stored_text()
    _out, err = capfd.readouterr()
    for secret in secrets:
        assert secret not in stored
        assert secret not in caplog.text
        assert secret not in err and secret not in cli.stderr
    # mintkey's stdout is the one place the secret is meant to appear, once.
    assert cli.stdout.count(secrets[-1]) == 1
    # The digests are stored, so the rows above were really read.
    assert stored.count("jinf_") >= len(secrets)
