"""What the BYOK tests share (test_byok.py, test_byok_rules.py): the platform's
route to the sandbox under its own key, and org-a's own provider (another key) with a
priced model on it, added through the management API."""

from decimal import Decimal

import openai
import pytest

from billing import byok as fees
from billing.services import credits_grant
from proxy import table
from proxy.routes_file import apply
from tests.api.conftest import session

ORG_SECRET = "sk-org-own-5b1e9c0d4f7a2e86"
PLATFORM_SECRET = "sk-platform-0a9b8c7d"
USD = 10**12
PRICE_IN, PRICE_OUT = "1.25", "3"  # USD per million tokens, declared by the organization


@pytest.fixture
def fee_percent(settings):
    settings.BYOK_FEE_PERCENT = Decimal("5")
    fees.numerator.cache_clear()
    yield
    fees.numerator.cache_clear()


@pytest.fixture
def platform(sandbox, settings):
    """The platform's own route to the same sandbox, under its own key."""
    settings.PROXY_COOLDOWN_FAILURES = 1
    apply(
        {
            "providers": [
                {"name": "up-openai", "kind": "openai", "base_url": sandbox.url + "/v1",
                 "api_key": PLATFORM_SECRET},
            ],
            "models": [
                {"name": "platform-chat", "price": {"input": 0.5, "output": 1},
                 "deployments": [{"provider": "up-openai", "model": "platform-chat"}]},
            ],
        }
    )  # fmt: skip
    table.invalidate()
    return sandbox


@pytest.fixture
def own(tenancy, platform, fee_percent):
    """org-a's admin adds its provider and a model on it through the API."""
    for org in (tenancy.org, tenancy.other_org):
        credits_grant(organization=org, amount_pico=10 * USD, reason="test")
    api = session(tenancy.admin)
    made = api.post(
        "/api/orgs/org-a/providers/",
        {"name": "own-up", "kind": "openai", "base_url": platform.url + "/v1",
         "api_key": ORG_SECRET},
        format="json",
    )  # fmt: skip
    assert made.status_code == 201, made.content
    model = api.post(
        "/api/orgs/org-a/models/",
        {"name": "our-llama", "deployments": [{"provider": "own-up", "model": "llama-own"}],
         "input_price_usd": PRICE_IN, "output_price_usd": PRICE_OUT},
        format="json",
    )  # fmt: skip
    assert model.status_code == 201, model.content
    return made, model


def gpt(server, secret: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=secret, max_retries=0)


def declared_cost(tokens_in: int, tokens_out: int) -> int:
    return int(Decimal(PRICE_IN) * 10**6) * tokens_in + int(Decimal(PRICE_OUT) * 10**6) * tokens_out
