"""Home: an organization's balance, last 30 days of spend, this period against the plan,
today's requests and error rate, and a quick start with this server's base URL."""

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts import selectors as accounts_selectors
from accounts.models import Membership
from accounts.views.access import member_view
from billing.portal.selectors import billing_summary
from dashboard import usage_reads

CHART_DAYS = 30


@member_view
def home(request: HttpRequest, membership: Membership) -> HttpResponse:
    org = membership.organization
    now = timezone.now()
    today = now.date()
    days = usage_reads.daily_totals(
        organization=org, start=today - timedelta(days=CHART_DAYS - 1), end=today
    )
    summary = billing_summary(organization=org, now=now)
    plan = summary.plan
    base_url = request.build_absolute_uri("/v1")
    context = {
        "current": "dashboard",
        "membership": membership,
        "active_keys": accounts_selectors.api_keys_active_count(organization=org),
        "summary": summary,
        "included_pico": plan.included_pico if not plan.prepaid else 0,
        "period_left_pico": max(plan.included_pico - summary.period_spend_pico, 0),
        "days": days,
        "today": days[-1],
        "spend_30d_pico": sum(d.cost_pico for d in days),
        "chart": {
            "id": "home-spend",
            "metric": "spend",
            "x": [d.label for d in days],
            "series": [
                {
                    "label": "Spend",
                    "values": usage_reads.chart_values("spend", [d.cost_pico for d in days]),
                }
            ],
        },
        "base_url": base_url,
        "anthropic_base_url": base_url.removesuffix("/v1"),
    }
    return render(request, "dashboard/home.html", context)
