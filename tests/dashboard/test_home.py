"""Home (/o/<slug>/): balance, 30 days of spend, the period against the plan, today's
requests and error rate, and the quick start, as owner, member and outsider."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.money import PICO_PER_USD
from accounts.services import api_key_revoke
from billing.models import Plan, PlanChange, PlanKind
from billing.services import credits_grant
from tests.billing.portal.data import record_usage
from tests.dashboard.data import rollup

PAGE = "/o/org-a/"


def _chart(html: str) -> dict:
    found = re.search(r'<script id="home-spend-data" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1))


def test_balance_in_dollars_and_cents_exact_on_hover(tenancy):
    credits_grant(organization=tenancy.org, amount_pico=12_345_678_901_234, reason="test")
    html = tenancy.client(tenancy.owner).get(PAGE).content.decode()
    # 12.345678901234 + the sign-up credit, if any: read the figure back from the org.
    tenancy.org.refresh_from_db()
    assert tenancy.org.credit_balance_pico == 12_345_678_901_234
    assert 'id="balance" title="$12.345678901234">$12.35</span>' in html


@pytest.mark.parametrize("user", ["owner", "admin", "member"])
def test_members_see_home_with_role_and_active_keys(tenancy, user):
    api_key_revoke(key=tenancy.member_key.key)
    r = tenancy.client(getattr(tenancy, user)).get(PAGE)
    assert r.status_code == 200
    html = r.content.decode()
    assert '<span class="value" id="active-keys">1</span>' in html
    assert f'<span class="value" id="role">{user.capitalize()}</span>' in html
    assert 'aria-current="page">Dashboard<' in html


def test_outsider_gets_404(tenancy):
    assert tenancy.client(tenancy.outsider).get(PAGE).status_code == 404


def test_spend_chart_is_30_days_of_rollups_and_today_counts_errors(tenancy):
    today = timezone.now().date()
    rollup(tenancy.org, today, requests=40, errors=3, cost_pico=2 * PICO_PER_USD)
    rollup(tenancy.org, today, model="other", requests=8, errors=1, cost_pico=PICO_PER_USD // 2)
    rollup(tenancy.org, today - timedelta(days=29), requests=5, cost_pico=7 * PICO_PER_USD)
    rollup(tenancy.org, today - timedelta(days=30), requests=9, cost_pico=100 * PICO_PER_USD)
    rollup(tenancy.other_org, today, requests=1000, errors=1000, cost_pico=PICO_PER_USD)

    html = tenancy.client(tenancy.member).get(PAGE).content.decode()

    chart = _chart(html)
    assert len(chart["x"]) == 30
    assert chart["x"][0] == (today - timedelta(days=29)).isoformat()
    assert chart["x"][-1] == today.isoformat()
    values = chart["series"][0]["values"]
    assert values[0] == 7.0 and values[-1] == 2.5 and sum(values) == 9.5
    assert '<span class="value" id="requests-today">48</span>' in html
    assert "4 failed: 8.3% error rate" in html  # 4 of 48
    # The day 30 days ago is out of the chart.
    assert 'id="spend-30d" title="$9.50">$9.50</span> in all' in html
    assert "<canvas" not in html and 'id="home-spend"' in html  # drawn by the script
    assert "vendor/uplot-1.6.32/uPlot.iife.min.js" in html


def test_prepaid_period_shows_the_spend(tenancy):
    record_usage(tenancy.org, at=timezone.now(), count=3, cost_pico=PICO_PER_USD)
    html = tenancy.client(tenancy.owner).get(PAGE).content.decode()
    assert 'id="period-spend" title="$3.00">$3.00</span>' in html
    assert "payg: prepaid, paid from credit" in html
    assert 'id="period-meter"' not in html


def test_flat_plan_period_spend_against_included_usage(tenancy):
    team = Plan.objects.create(
        name="team",
        kind=PlanKind.FLAT,
        monthly_fee_pico=49 * PICO_PER_USD,
        included_pico=40 * PICO_PER_USD,
        overage="bill",
    )
    PlanChange.objects.create(
        organization=tenancy.org, plan=team, effective_at=timezone.now() - timedelta(days=40)
    )
    record_usage(tenancy.org, at=timezone.now(), count=2, cost_pico=5 * PICO_PER_USD, prepaid=False)
    html = tenancy.client(tenancy.owner).get(PAGE).content.decode()
    assert 'id="period-spend" title="$10.00">$10.00</span>' in html
    assert "of $40.00 included in team (25%); $30.00 left" in html
    assert f'max="{40 * PICO_PER_USD}" value="{10 * PICO_PER_USD}"' in html


def test_quick_start_has_this_servers_base_url(tenancy, settings):
    settings.ALLOWED_HOSTS = ["gw.example"]
    html = tenancy.client(tenancy.owner).get(PAGE, HTTP_HOST="gw.example:8123").content.decode()
    assert 'id="base-url">http://gw.example:8123/v1<' in html
    assert "curl http://gw.example:8123/v1/chat/completions" in html
    assert 'OpenAI(base_url="http://gw.example:8123/v1"' in html
    assert 'baseURL: "http://gw.example:8123/v1"' in html
    assert 'Anthropic(base_url="http://gw.example:8123"' in html
    assert '"ANTHROPIC_BASE_URL": "http://gw.example:8123"' in html
    assert '"ANTHROPIC_AUTH_TOKEN"' in html
    assert 'base_url = "http://gw.example:8123/v1"' in html and 'wire_api = "responses"' in html
