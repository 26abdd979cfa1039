"""The management API's billing reads: balance, usage (from the rollups), invoices."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.money import PICO_PER_USD
from billing.models import InvoiceStatus, LineKind, UsageRecord, UsageRollup
from billing.periods import period_bounds, period_of
from billing.services import credits_grant
from tests.api.conftest import bearer, session
from tests.billing.portal.data import make_invoice, record_usage

DAY1 = datetime(2026, 11, 3, 10, tzinfo=UTC)
DAY2 = datetime(2026, 11, 4, 10, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_balance_shows_credit_plan_period_and_spend_as_exact_usd(tenancy, mgmt_a):
    org = tenancy.org
    org.refresh_from_db()
    before = org.credit_balance_pico
    credits_grant(organization=org, amount_pico=10 * PICO_PER_USD, reason="test")
    now = timezone.now()
    record_usage(org, at=now, count=3, cost_pico=1_234_567)  # 3 × $0.000001234567

    response = bearer(mgmt_a.secret).get("/api/orgs/org-a/balance/")

    assert response.status_code == 200
    start, end = period_bounds(period_of(now))
    expected_balance = (Decimal(before) + 10 * PICO_PER_USD - 3 * 1_234_567) / PICO_PER_USD
    body = response.json()
    assert Decimal(body.pop("balance_usd")) == expected_balance
    assert body == {
        "plan": "payg",
        "period_start": _iso(start),
        "period_end": _iso(end),
        "period_spend_usd": "0.000003703701",
    }


def test_balance_of_another_organization_is_404_by_key_and_by_session(tenancy, mgmt_b):
    assert bearer(mgmt_b.secret).get("/api/orgs/org-a/balance/").status_code == 404
    assert session(tenancy.outsider).get("/api/orgs/org-a/balance/").status_code == 404
    assert session(tenancy.member).get("/api/orgs/org-a/balance/").status_code == 200


@pytest.fixture
def usage(tenancy):
    """Two days of org A's usage over two models and two keys, and org B's on day 1."""
    a, b = tenancy.org, tenancy.other_org
    owner_key, member_key = tenancy.owner_key.key, tenancy.member_key.key
    record_usage(a, at=DAY1, model="m-small", key=owner_key, count=2, cost_pico=10, refresh=False)
    record_usage(a, at=DAY1, model="m-big", key=member_key, count=1, cost_pico=1000, refresh=False)
    record_usage(a, at=DAY2, model="m-small", key=member_key, count=4, cost_pico=10, refresh=False)
    record_usage(b, at=DAY1, model="m-small", count=9, cost_pico=7)
    return a


def test_usage_grouped_by_day_model_and_key_from_the_rollups(tenancy, mgmt_a, usage):
    client = bearer(mgmt_a.secret)
    q = {"start": "2026-11-01", "end": "2026-11-30"}

    by_day = client.get("/api/orgs/org-a/usage/", {**q, "group_by": "day"}).json()
    assert by_day["data"] == [
        {"day": "2026-11-03", "requests": 3, "input_tokens": 300, "output_tokens": 150,
         "cost_usd": "0.00000000102"},
        {"day": "2026-11-04", "requests": 4, "input_tokens": 400, "output_tokens": 200,
         "cost_usd": "0.00000000004"},
    ]  # fmt: skip
    assert by_day["total"] == {
        "requests": 7, "input_tokens": 700, "output_tokens": 350, "cost_usd": "0.00000000106",
    }  # fmt: skip

    by_model = client.get("/api/orgs/org-a/usage/", {**q, "group_by": "model"}).json()
    assert [(r["model"], r["requests"], r["cost_usd"]) for r in by_model["data"]] == [
        ("m-big", 1, "0.000000001"),
        ("m-small", 6, "0.00000000006"),
    ]

    by_key = client.get("/api/orgs/org-a/usage/", {**q, "group_by": "key"}).json()
    rows = {r["key_id"]: r for r in by_key["data"]}
    assert rows[tenancy.owner_key.key.pk]["requests"] == 2
    assert rows[tenancy.owner_key.key.pk]["key_prefix"] == tenancy.owner_key.key.prefix
    assert rows[tenancy.member_key.key.pk]["requests"] == 5
    assert set(rows) == {tenancy.owner_key.key.pk, tenancy.member_key.key.pk}


def test_usage_reads_the_rollups_not_the_raw_records(tenancy, mgmt_a, usage):
    """A rollup row changed by hand shows in the answer; deleting the raw rows does not:
    the endpoint never scans usage records."""
    UsageRollup.objects.filter(organization=usage, day=DAY2.date()).update(requests=40)
    UsageRecord.objects.filter(organization=usage).update(input_tokens=0)

    body = (
        bearer(mgmt_a.secret)
        .get("/api/orgs/org-a/usage/", {"start": "2026-11-04", "end": "2026-11-04"})
        .json()
    )

    assert body["data"] == [
        {"day": "2026-11-04", "requests": 40, "input_tokens": 400, "output_tokens": 200,
         "cost_usd": "0.00000000004"},
    ]  # fmt: skip


def test_usage_of_one_day_range_and_an_empty_range(tenancy, mgmt_a, usage):
    client = bearer(mgmt_a.secret)
    body = client.get("/api/orgs/org-a/usage/", {"start": "2026-11-03", "end": "2026-11-03"}).json()
    assert [r["day"] for r in body["data"]] == ["2026-11-03"]
    empty = client.get("/api/orgs/org-a/usage/", {"start": "2026-10-01", "end": "2026-10-31"})
    assert empty.json()["data"] == []
    assert empty.json()["total"]["cost_usd"] == "0.00"


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"start": "2026-13-01"}, "start"),
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-11-31"}, "end"),
        ({"group_by": "hour"}, "group_by"),
        ({"start": "2026-11-10", "end": "2026-11-09"}, "end"),
        ({"start": "2024-01-01", "end": "2026-01-01"}, "end"),
    ],
)
def test_bad_usage_query_is_400_naming_the_parameter(tenancy, mgmt_a, query, param):
    response = bearer(mgmt_a.secret).get("/api/orgs/org-a/usage/", query)
    assert response.status_code == 400
    assert list(response.json()) == [param]
    assert response.json()[param][0]


def test_usage_of_another_organization_is_404(tenancy, mgmt_b, usage):
    assert bearer(mgmt_b.secret).get("/api/orgs/org-a/usage/").status_code == 404
    assert session(tenancy.outsider).get("/api/orgs/org-a/usage/").status_code == 404


def _invoices(org, count=3):
    out = []
    for month in range(1, count + 1):
        out.append(
            make_invoice(
                org,
                f"2026-{month:02d}",
                status=InvoiceStatus.PAID,
                number=f"INV-{org.pk:03d}{month:03d}",
                paid_from_credit_pico=3 * 10**9,
                lines=[
                    (LineKind.USAGE, "Usage of m-small", "m-small", 1500, 10**9),
                    (LineKind.USAGE, "Usage of m-big", "m-big", 20, 2 * 10**9 + 1),
                    (LineKind.CREDIT_NOTE, "Credit note", "", 1, -1),
                ],
            )
        )
    return out


def test_invoices_list_and_detail_with_lines_and_exact_totals(tenancy, mgmt_a):
    invoices = _invoices(tenancy.org)
    _invoices(tenancy.other_org, count=1)
    client = bearer(mgmt_a.secret)

    listed = client.get("/api/orgs/org-a/invoices/").json()

    assert [i["period"] for i in listed] == ["2026-03", "2026-02", "2026-01"]
    first = listed[-1]
    assert first["id"] == invoices[0].pk
    assert first["number"] == invoices[0].number
    assert first["status"] == "paid"
    assert first["plan"] == "payg"
    assert first["total_usd"] == "0.003"  # 0.001 + 0.002000000001 − 0.000000000001
    assert first["amount_due_usd"] == "0.00"
    assert first["lines"] == [
        {"kind": "usage", "description": "Usage of m-small", "model": "m-small",
         "quantity": 1500, "amount_usd": "0.001", "covers_period": ""},
        {"kind": "usage", "description": "Usage of m-big", "model": "m-big", "quantity": 20,
         "amount_usd": "0.002000000001", "covers_period": ""},
        {"kind": "credit_note", "description": "Credit note", "model": "", "quantity": 1,
         "amount_usd": "-0.000000000001", "covers_period": ""},
    ]  # fmt: skip
    detail = client.get(f"/api/orgs/org-a/invoices/{invoices[0].pk}/").json()
    assert detail == first


def test_another_organizations_invoice_is_404(tenancy, mgmt_a, mgmt_b):
    theirs = _invoices(tenancy.other_org, count=1)[0]
    assert bearer(mgmt_a.secret).get(f"/api/orgs/org-a/invoices/{theirs.pk}/").status_code == 404
    assert bearer(mgmt_b.secret).get("/api/orgs/org-a/invoices/").status_code == 404
    outsider = session(tenancy.outsider)
    assert outsider.get(f"/api/orgs/org-a/invoices/{theirs.pk}/").status_code == 404
    assert outsider.get(f"/api/orgs/org-b/invoices/{theirs.pk}/").status_code == 200


def test_invoices_list_makes_the_same_queries_for_one_invoice_as_for_ten(
    tenancy, mgmt_a, django_assert_num_queries
):
    """No query per invoice: the lines come in one prefetch, whatever the count."""
    client = bearer(mgmt_a.secret)
    _invoices(tenancy.org, count=1)
    with CaptureQueriesContext(connection) as one:
        assert len(client.get("/api/orgs/org-a/invoices/").json()) == 1
    for month in range(2, 11):
        make_invoice(
            tenancy.org,
            f"2025-{month:02d}",
            lines=[(LineKind.USAGE, "Usage", "m", 1, 5), (LineKind.USAGE, "Usage", "n", 1, 6)],
        )

    with django_assert_num_queries(len(one.captured_queries)):
        response = client.get("/api/orgs/org-a/invoices/")

    assert len(response.json()) == 10
    assert all(len(invoice["lines"]) >= 2 for invoice in response.json())


def test_billing_paths_are_in_the_schema(db):
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/orgs/{slug}/balance/",
        "/api/orgs/{slug}/usage/",
        "/api/orgs/{slug}/invoices/",
        "/api/orgs/{slug}/invoices/{invoice_id}/",
    ):
        assert path in schema["paths"], path
    usage = schema["paths"]["/api/orgs/{slug}/usage/"]["get"]
    assert {p["name"] for p in usage["parameters"]} >= {"start", "end", "group_by"}
    invoice = schema["components"]["schemas"]["Invoice"]["properties"]
    assert {"id", "number", "period", "plan", "status", "total_usd", "lines"} <= set(invoice)
