"""The Usage page (/o/<slug>/usage/) and its CSV: filters in the URL, figures from the
rollups (and only them), bad input shown as a message, a fixed number of queries."""

import csv
import io
import json
import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.money import PICO_PER_USD
from billing.models import UsageRollup
from tests.dashboard.data import rollup

PAGE = "/o/org-a/usage/"
CSV = "/o/org-a/usage.csv"


def _chart(html: str) -> dict:
    found = re.search(r'<script id="usage-chart-data" type="application/json">(.*?)</script>', html)
    return json.loads(found.group(1))


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def usage(tenancy):
    """Three days of two models over two keys, plus the other organization's usage."""
    d = date(2026, 11, 10)
    owner_key, member_key = tenancy.owner_key.key, tenancy.member_key.key
    rollup(tenancy.org, d, model="gpt-4o", key=owner_key, requests=10, errors=1,
           input_tokens=1000, output_tokens=500, cost_pico=3 * PICO_PER_USD)  # fmt: skip
    rollup(tenancy.org, d, model="gpt-4o-mini", key=member_key, requests=20,
           input_tokens=200, output_tokens=100, cost_pico=PICO_PER_USD // 4)  # fmt: skip
    rollup(tenancy.org, d + timedelta(days=2), model="gpt-4o", key=member_key, requests=5,
           errors=5, input_tokens=50, output_tokens=0, cost_pico=1_234_567)  # fmt: skip
    rollup(tenancy.org, d + timedelta(days=40), model="late", requests=99, cost_pico=PICO_PER_USD)
    rollup(tenancy.other_org, d, model="secret-model", key=tenancy.other_key.key, requests=7)
    return d


def test_outsider_gets_404_page_and_csv(tenancy):
    client = tenancy.client(tenancy.outsider)
    assert client.get(PAGE).status_code == 404
    assert client.get(CSV).status_code == 404


@pytest.mark.parametrize("user", ["owner", "member"])
def test_split_by_model_spend_over_a_range(tenancy, usage, user):
    q = f"?start={usage}&end={usage + timedelta(days=2)}&metric=spend&split=model"
    r = tenancy.client(getattr(tenancy, user)).get(PAGE + q)
    assert r.status_code == 200
    html = r.content.decode()
    chart = _chart(html)
    assert chart["x"] == ["2026-11-10", "2026-11-11", "2026-11-12"]
    series = {s["label"]: s["values"] for s in chart["series"]}
    assert series == {"gpt-4o": [3.0, 0.0, 1.234567e-06], "gpt-4o-mini": [0.25, 0.0, 0.0]}
    assert 'id="usage-spend" title="$3.250001234567">$3.250001</span>' in html
    assert '<span class="value" id="usage-requests">35</span>' in html
    assert "6 failed (17.1%)" in html
    assert '<span class="value" id="usage-tokens">1,850</span>' in html
    assert "secret-model" not in html and "b&#x27;s key" not in html and "late" not in html
    # The top tables, most spent first; keys by name and prefix.
    models = html.split('id="top-models-table"')[1].split("</table>")[0]
    assert models.index("gpt-4o<") < models.index("gpt-4o-mini<")
    keys = html.split('id="top-keys-table"')[1].split("</table>")[0]
    prefix = tenancy.owner_key.key.prefix
    assert f"owner&#x27;s key ({prefix}…)" in keys
    assert keys.index("owner&#x27;s key") < keys.index("member&#x27;s key")
    # The filters are kept: in the form and in the CSV link.
    assert 'value="2026-11-10"' in html and 'value="2026-11-12"' in html
    assert (
        'href="/o/org-a/usage.csv?start=2026-11-10&amp;end=2026-11-12&amp;metric=spend'
        '&amp;split=model&amp;bucket=day"' in html
    )
    assert r.context["current"] == "usage"  # the tab the lead's nav highlights
    assert "Per UTC day, 2026-11-10 00:00 to 2026-11-12 24:00 UTC" in html
    assert '<option value="day" selected>Day</option>' in html
    # Without scripts, the chart's figures are a table.
    table = html.split('id="usage-chart-table"')[1].split("</table>")[0]
    assert (
        '<th scope="col">Day (UTC)</th><th scope="col">gpt-4o</th><th scope="col">gpt-4o-mini</th>'
        in table
    )
    assert "<tr><td>2026-11-10</td><td>$3.00</td><td>$0.25</td></tr>" in table
    assert "<tr><td>2026-11-12</td><td>$0.000001</td><td>$0.00</td></tr>" in table


def test_split_by_key_requests_and_tokens(tenancy, usage):
    client = tenancy.client(tenancy.owner)
    q = f"?start={usage}&end={usage + timedelta(days=2)}&split=key"
    chart = _chart(client.get(PAGE + q + "&metric=requests").content.decode())
    prefix_o, prefix_m = tenancy.owner_key.key.prefix, tenancy.member_key.key.prefix
    series = {s["label"]: s["values"] for s in chart["series"]}
    assert series == {
        f"owner's key ({prefix_o}…)": [10, 0, 0],
        f"member's key ({prefix_m}…)": [20, 0, 5],
    }
    chart = _chart(client.get(PAGE + q + "&metric=tokens").content.decode())
    series = {s["label"]: s["values"] for s in chart["series"]}
    assert series[f"member's key ({prefix_m}…)"] == [300, 0, 50]
    chart = _chart(client.get(PAGE + q + "&metric=tokens&split=none").content.decode())
    assert chart["series"] == [{"label": "Total", "values": [1800, 0, 50]}]


def test_the_page_reads_the_rollups(tenancy, usage):
    client = tenancy.client(tenancy.owner)
    q = f"?start={usage}&end={usage}&metric=requests&split=none"
    assert _chart(client.get(PAGE + q).content.decode())["series"][0]["values"] == [30]
    UsageRollup.objects.filter(organization=tenancy.org, day=usage, model="gpt-4o").update(
        requests=1010
    )
    assert _chart(client.get(PAGE + q).content.decode())["series"][0]["values"] == [1030]


def test_csv_keeps_the_filters(tenancy, usage):
    client = tenancy.client(tenancy.member)
    r = client.get(
        CSV + f"?start={usage + timedelta(days=1)}&end={usage + timedelta(days=2)}&split=key"
    )
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    assert "usage-org-a-2026-11-11-2026-11-12-key.csv" in r["Content-Disposition"]
    prefix_m = tenancy.member_key.key.prefix
    assert _csv(r) == [
        ["day", "key", "requests", "errors", "input_tokens", "output_tokens", "cost_usd"],
        ["2026-11-12", f"member's key ({prefix_m}…)", "5", "5", "50", "0", "0.000001234567"],
    ]
    r = client.get(CSV + f"?start={usage}&end={usage}&split=model")
    assert _csv(r) == [
        ["day", "model", "requests", "errors", "input_tokens", "output_tokens", "cost_usd"],
        ["2026-11-10", "gpt-4o", "10", "1", "1000", "500", "3.00"],
        ["2026-11-10", "gpt-4o-mini", "20", "0", "200", "100", "0.25"],
    ]
    r = client.get(CSV + f"?start={usage}&end={usage + timedelta(days=60)}&split=none")
    assert [row[0] for row in _csv(r)] == ["day", "2026-11-10", "2026-11-12", "2026-12-20"]


@pytest.mark.parametrize(
    "query, message",
    [
        ("?start=2026-13-45", "Enter a valid date."),
        ("?end=yesterday", "Enter a valid date."),
        ("?start=2026-11-20&end=2026-11-01", "The start date is after the end date"),
        ("?metric=bogus", "Select a valid choice."),
        ("?split=%00", "Select a valid choice."),
    ],
)
def test_bad_filters_say_so_and_show_the_default_range(tenancy, query, message):
    r = tenancy.client(tenancy.owner).get(PAGE + query)
    assert r.status_code == 200
    html = r.content.decode()
    assert message in html and 'role="alert"' in html
    chart = _chart(html)
    today = timezone.now().date()
    assert chart["x"][-1] == today.isoformat() and len(chart["x"]) == 30
    assert tenancy.client(tenancy.owner).get(CSV + query).status_code == 200


def test_range_is_capped_at_400_days(tenancy):
    r = tenancy.client(tenancy.owner).get(PAGE + "?start=2000-01-01&end=2026-11-30")
    html = r.content.decode()
    assert "A range is at most 400 days" in html
    chart = _chart(html)
    assert len(chart["x"]) == 400 and chart["x"][-1] == "2026-11-30"


def test_fixed_number_of_queries_whatever_the_models_and_keys(tenancy, django_assert_num_queries):
    start = date(2026, 1, 1)
    keys = [tenancy.owner_key.key, tenancy.member_key.key, None]
    UsageRollup.objects.bulk_create(
        UsageRollup(
            organization=tenancy.org,
            day=start + timedelta(days=d),
            model=f"model-{m}",
            key_id=keys[m % 3].pk if keys[m % 3] else 0,
            requests=1,
            cost_pico=m + 1,
        )
        for d in range(0, 300, 7)
        for m in range(25)
    )
    rollup(tenancy.org, date(2025, 6, 1), key=tenancy.owner_key.key)  # one model, one key
    client = tenancy.client(tenancy.owner)
    client.get(PAGE)  # the session is warm
    for split, drawn in (("model", 9), ("key", 3)):
        with CaptureQueriesContext(connection) as one_model:
            client.get(PAGE + "?start=2025-06-01&end=2025-06-01&split=" + split)
        # 1,075 rollups: 43 days × 25 models over 3 keys, in a 365-day range.
        with django_assert_num_queries(len(one_model)):
            html = client.get(PAGE + f"?start=2026-01-01&end=2026-12-31&split={split}")
        chart = _chart(html.content.decode())
        assert len(chart["series"]) == drawn
        assert (chart["series"][-1]["label"] == "Other") == (split == "model")
        assert round(sum(sum(s["values"]) for s in chart["series"]) * PICO_PER_USD) == 43 * 325
