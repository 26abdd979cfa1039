"""The proxy under test: the ASGI app on loopback, the sandbox upstream, routes, a key."""

from dataclasses import dataclass

import openai
import pytest

from accounts.models import APIKey, Organization
from accounts.money import PICO_PER_USD
from accounts.services import api_key_create, organization_create
from billing import holds
from billing.models import UsageRecord
from billing.services import credits_grant
from proxy import auth, balancer, limits, relay, table
from proxy.routes_file import apply
from sandbox.server import SandboxServer
from tests.processes import wait_for

# USD per million tokens: input 1.5, output 2.25, cached input 0.375.
PRICE = {"input": 1.5, "output": 2.25, "cached_input": 0.375}


@pytest.fixture(autouse=True)
def _fresh_proxy_state(settings):
    settings.PROXY_COOLDOWN_S = 30.0
    for forget in (
        auth._cache.clear,
        balancer.reset,
        holds.forget,
        limits.reset,
        relay.forget,
        table.invalidate,
    ):
        forget()
    yield
    table.invalidate()


@pytest.fixture
def sandbox():
    server = SandboxServer().start()
    try:
        yield server
    finally:
        server.stop()


def load_routes(sandbox, models: dict[str, list[dict]], *, timeout_s: float = 5.0) -> None:
    """models: name → deployments [{"model": upstream id, "priority": p, ...}]."""
    apply(
        {
            "providers": [
                {"name": "sandbox", "kind": "openai", "base_url": sandbox.url + "/v1",
                 "api_key": "sk-sandbox-secret", "timeout_s": timeout_s},
                {"name": "sandbox-b", "kind": "openai", "base_url": sandbox.url + "/v1",
                 "api_key": "sk-sandbox-b", "timeout_s": timeout_s},
            ],
            "models": [
                {"name": name, "price": PRICE,
                 "deployments": [{"provider": "sandbox", **d} for d in deployments]}
                for name, deployments in models.items()
            ],
        }
    )  # fmt: skip
    table.invalidate()


@pytest.fixture
def routes(sandbox):
    load_routes(
        sandbox,
        {
            "demo": [{"model": "demo"}],
            "demo-cached": [{"model": "demo@cached=4"}],
            "slow": [{"model": "demo@chunks=200,delay_ms=50"}],
        },
    )
    return sandbox


@pytest.fixture
def matrix_routes(sandbox):
    """`via-openai` and `via-anthropic`: the sandbox behind a provider of each kind."""
    apply(
        {
            "providers": [
                {
                    "name": "up-openai",
                    "kind": "openai",
                    "base_url": sandbox.url + "/v1",
                    "api_key": "sk-o",
                },
                {
                    "name": "up-anthropic",
                    "kind": "anthropic",
                    "base_url": sandbox.url,
                    "api_key": "sk-a",
                },
            ],
            "models": [
                {
                    "name": "via-openai",
                    "price": PRICE,
                    "deployments": [{"provider": "up-openai", "model": "demo"}],
                },
                {
                    "name": "via-anthropic",
                    "price": PRICE,
                    "deployments": [{"provider": "up-anthropic", "model": "demo"}],
                },
            ],
        }
    )
    table.invalidate()
    return sandbox


@dataclass
class Tenant:
    org: Organization
    key: APIKey
    secret: str

    def client(self, server, **kwargs) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=server.url + "/v1", api_key=self.secret, max_retries=0, **kwargs
        )


def make_tenant(slug: str = "acme", usd_pico: int = 10 * PICO_PER_USD, **key_fields) -> Tenant:
    org = organization_create(name=slug, owner=None, slug=slug)
    if usd_pico:
        credits_grant(organization=org, amount_pico=usd_pico, reason="test")
    new = api_key_create(organization=org, name="test", **key_fields)
    return Tenant(org=org, key=new.key, secret=new.secret)


@pytest.fixture
def tenant(transactional_db) -> Tenant:
    return make_tenant()


def records(count: int, timeout_s: float = 10.0) -> list[UsageRecord]:
    """Waits for `count` usage records (they are written in batches, off the request path)."""
    assert wait_for(lambda: UsageRecord.objects.count() >= count, timeout_s=timeout_s), (
        f"expected {count} usage records, found {UsageRecord.objects.count()}"
    )
    return list(UsageRecord.objects.order_by("created_at", "id"))
