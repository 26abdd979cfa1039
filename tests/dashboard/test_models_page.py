"""/o/<slug>/models/: the served models with their prices now and to come, the endpoints
each answers (native or translated, by provider kind), and this process's cooldowns."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from billing.models import ModelPrice
from proxy import balancer, table
from proxy.models import Deployment, ModelRoute, Provider

URL = "/o/org-a/models/"


@pytest.fixture(autouse=True)
def _fresh(settings):
    settings.PROXY_COOLDOWN_S = 30.0
    balancer.reset()
    table.invalidate()
    yield
    balancer.reset()


@pytest.fixture
def routes(tenancy):
    openai = Provider.objects.create(name="up-openai", kind="openai", base_url="http://x/v1")
    claude = Provider.objects.create(name="up-claude", kind="anthropic", base_url="http://y")
    fast = ModelRoute.objects.create(name="fast", input_price=1_500_000, output_price=2_250_000)
    deep = ModelRoute.objects.create(
        name="deep",
        input_price=3_000_000,
        output_price=15_000_000,
        cached_input_price=300_000,
        cache_write_price=3_750_000,
    )
    off = ModelRoute.objects.create(name="switched-off", input_price=1, output_price=1)
    off.is_active = False
    off.save()
    Deployment.objects.create(model_route=fast, provider=openai, upstream_model="demo")
    claude_dep = Deployment.objects.create(model_route=deep, provider=claude, upstream_model="c")
    Deployment.objects.create(model_route=off, provider=openai, upstream_model="demo")
    return {"fast": fast, "deep": deep, "claude": claude_dep}


def row(page: str, name: str) -> str:
    match = re.search(rf'<tr id="model-{name}".*?</tr>', page, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


def cell(row_html: str, price: str) -> str:
    match = re.search(rf'data-price="{price}"[^>]*>(.*?)</td>', row_html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


@pytest.mark.parametrize("who", ["owner", "admin", "member"])
def test_members_see_the_served_models_at_exact_prices(tenancy, routes, who):
    response = tenancy.client(getattr(tenancy, who)).get(URL)
    assert response.status_code == 200
    page = response.content.decode()
    fast, deep = row(page, "fast"), row(page, "deep")
    assert [cell(fast, p) for p in ("input", "output", "cached_input", "cache_write")] == [
        "$1.50",
        "$2.25",
        "$1.50 (= input)",
        "$1.875 (1.25 × input)",
    ]
    assert [cell(deep, p) for p in ("input", "output", "cached_input", "cache_write")] == [
        "$3.00",
        "$15.00",
        "$0.30",
        "$3.75",
    ]
    assert "switched-off" not in page
    assert "this server process's view" in page


def test_outsiders_get_404_and_anonymous_a_login(tenancy, routes):
    assert tenancy.client(tenancy.outsider).get(URL).status_code == 404
    from django.test import Client

    assert Client().get(URL).status_code == 302


def test_endpoints_follow_the_provider_kind(tenancy, routes):
    page = tenancy.client(tenancy.member).get(URL).content.decode()
    fast, deep = row(page, "fast"), row(page, "deep")

    def endpoints(html):
        return dict(
            re.findall(r"<code>(/v1/[a-z/_]+)</code>.*?class=\"badge how-(\w+)\"", html, re.S)
        )

    assert endpoints(fast) == {
        "/v1/chat/completions": "native",
        "/v1/completions": "native",
        "/v1/embeddings": "native",
        "/v1/responses": "native",
        "/v1/messages": "translated",
    }
    assert endpoints(deep) == {
        "/v1/chat/completions": "translated",
        "/v1/responses": "translated",
        "/v1/messages": "native",
        "/v1/messages/count_tokens": "native",
    }


def test_a_cooled_down_deployment_is_shown_until_when(tenancy, routes):
    client = tenancy.client(tenancy.member)
    page = client.get(URL).content.decode()
    assert 'data-status="healthy"' in row(page, "deep")
    before = timezone.now()
    balancer.record_failure(routes["claude"].pk, rate_limited=True)
    page = client.get(URL).content.decode()
    deep = row(page, "deep")
    assert 'data-status="cooling"' in deep and 'data-status="healthy"' in row(page, "fast")
    shown = re.search(r"cooling down until (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", deep).group(1)
    expected = before + timedelta(seconds=30)
    assert abs((expected.replace(tzinfo=None) - _parse(shown)).total_seconds()) <= 2
    balancer.record_success(routes["claude"].pk)
    assert 'data-status="healthy"' in row(client.get(URL).content.decode(), "deep")


def _parse(text):
    from datetime import datetime

    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def test_a_dated_price_to_come_is_shown_and_a_past_one_is_in_force(tenancy, routes):
    now = timezone.now()
    ModelPrice.objects.create(
        model="fast", effective_from=now - timedelta(days=1), input_price=2_000_000,
        output_price=4_000_000,
    )  # fmt: skip
    ModelPrice.objects.create(
        model="fast", effective_from=now + timedelta(days=3), input_price=2_500_000,
        output_price=5_000_000, cached_input_price=250_000,
    )  # fmt: skip
    page = tenancy.client(tenancy.member).get(URL).content.decode()
    fast = row(page, "fast")
    assert (cell(fast, "input"), cell(fast, "output")) == ("$2.00", "$4.00")
    upcoming = re.search(r"<div class=\"upcoming[^>]*>(.*?)</div>", fast, re.S).group(1)
    when = (now + timedelta(days=3)).strftime("%Y-%m-%d %H:%M")
    assert upcoming.strip() == (
        f"From {when} UTC: input $2.50, output $5.00, cached input $0.25, cache write $3.125"
    )
    assert "upcoming" not in row(page, "deep")


def test_the_playground_offers_the_served_models_to_members_only(tenancy, routes):
    url = "/o/org-a/playground/"
    page = tenancy.client(tenancy.member).get(url).content.decode()
    select = re.search(r'<select id="pg-model".*?</select>', page, re.S).group(0)
    assert re.findall(r'<option value="([^"]+)">', select) == ["deep", "fast"]
    assert "sessionStorage" in page and "never stores it" in page
    assert tenancy.client(tenancy.outsider).get(url).status_code == 404
