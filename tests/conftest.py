"""Fixtures shared by the suite.

`tenancy` is the fixture set every portal and API test uses (after healthchecks' test
base): organization A with an owner, an admin and a member, and organization B whose
owner is an outsider to A. A test that reaches A's objects as B's owner must get 404.
"""

from dataclasses import dataclass

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from accounts.models import Membership, Organization, Role, User
from accounts.services import NewKey, api_key_create, organization_create

PASSWORD = "correct horse battery staple 9"


@dataclass
class Tenancy:
    org: Organization
    owner: User
    admin: User
    member: User
    other_org: Organization
    outsider: User
    owner_key: NewKey
    member_key: NewKey
    other_key: NewKey

    def client(self, user: User) -> Client:
        client = Client()
        client.force_login(user)
        return client


def make_user(email: str) -> User:
    user = User.objects.create_user(email=email, password=PASSWORD)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


@pytest.fixture
def tenancy(db) -> Tenancy:
    owner = make_user("owner@a.example")
    admin = make_user("admin@a.example")
    member = make_user("member@a.example")
    outsider = make_user("owner@b.example")
    org = organization_create(name="Org A", owner=owner, slug="org-a")
    Membership.objects.create(user=admin, organization=org, role=Role.ADMIN)
    Membership.objects.create(user=member, organization=org, role=Role.MEMBER)
    other_org = organization_create(name="Org B", owner=outsider, slug="org-b")
    return Tenancy(
        org=org,
        owner=owner,
        admin=admin,
        member=member,
        other_org=other_org,
        outsider=outsider,
        owner_key=api_key_create(organization=org, name="owner's key", created_by=owner),
        member_key=api_key_create(organization=org, name="member's key", created_by=member),
        other_key=api_key_create(organization=other_org, name="b's key", created_by=outsider),
    )


@pytest.fixture(autouse=True, scope="session")
def _celery_eager():
    """Tasks run in-process unless a test asks for the real worker (`celery_worker` mark)."""
    from platform_site.celery import app

    app.conf.task_always_eager = True
    yield


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """Starts a real worker process; tasks leave this process through the broker."""
    from platform_site.celery import app
    from tests.processes import start_worker, stop_worker

    app.control.purge()
    app.conf.task_always_eager = False
    worker = start_worker(tmp_path / "worker.log")
    try:
        yield worker
    finally:
        stop_worker(worker)
        app.conf.task_always_eager = True


@pytest.fixture
def asgi_server(transactional_db):
    """The whole ASGI application (portal + /v1) on a loopback port."""
    from tests.processes import AsgiServer

    server = AsgiServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters (login throttling) and cached values start fresh per test."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """PBKDF2 costs ~0.25 s a hash; the fixture set makes four users per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
