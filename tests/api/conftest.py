"""Clients for the management API: a signed-in session, or a management key."""

import pytest
from rest_framework.test import APIClient

from accounts.models import APIKey, Invitation, Membership, Organization, User
from accounts.services import NewKey, api_key_create


def session(user: User) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def management_key(org: Organization, name: str = "automation") -> NewKey:
    return api_key_create(organization=org, name=name, is_management=True)


def db_snapshot() -> dict[str, list]:
    """Everything the API can change, to show a refused request changed nothing."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Organization, Membership, Invitation, APIKey, User)
    }


@pytest.fixture
def mgmt_a(tenancy) -> NewKey:
    return management_key(tenancy.org)


@pytest.fixture
def mgmt_b(tenancy) -> NewKey:
    return management_key(tenancy.other_org)
