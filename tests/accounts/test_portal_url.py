"""Issue 12: invitation links follow HOST and PORT unless PORTAL_URL says otherwise."""

import os
import subprocess
import sys

import pytest
from django.test import TestCase

from accounts.models import Membership
from accounts.services import invitation_create


def portal_url(**env) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "PORTAL_URL")}
    out = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.PORTAL_URL)"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "platform_site.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "9123"}, "http://127.0.0.1:9123"),
        ({"HOST": "0.0.0.0", "PORT": "8100"}, "http://127.0.0.1:8100"),
        ({"HOST": "portal.test", "PORT": "80"}, "http://portal.test:80"),
        ({"PORT": "9123", "PORTAL_URL": "https://jinf.example"}, "https://jinf.example"),
    ],
)
def test_portal_url_follows_host_and_port(env, expected):
    assert portal_url(**env) == expected


def test_the_invitation_email_links_to_the_portal_url(tenancy, settings, mailoutbox):
    settings.PORTAL_URL = "http://127.0.0.1:9123"
    owner = Membership.objects.get(user=tenancy.owner, organization=tenancy.org)
    with TestCase.captureOnCommitCallbacks(execute=True):
        new = invitation_create(membership=owner, email="x@example.com")
    assert f"http://127.0.0.1:9123/invite/{new.token}/" in mailoutbox[-1].body
