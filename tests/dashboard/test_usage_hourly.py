"""The Usage page and CSV per UTC hour: from the hourly rollups only, the bucket kept in
the URL and the CSV, ranges past 31 days shown per day with a message, a fixed number of
queries whatever the range."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.money import PICO_PER_USD
from billing.models import UsageRollupHour
from tests.dashboard.data import rollup
from tests.dashboard.test_usage_page import CSV, PAGE, _chart, _csv

DAY = date(2026, 11, 10)


def hour_rollup(org, at: datetime, *, model="gpt-4o", key=None, requests=1, cost_pico=1_000_000):
    return UsageRollupHour.objects.create(
        organization=org, hour=at, key_id=key.pk if key else 0, model=model, requests=requests,
        errors=0, input_tokens=100, output_tokens=50, cost_pico=cost_pico,
    )  # fmt: skip


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def hourly(tenancy):
    """Two days of hours: two models at 05:00, one at 23:00 and at midnight after; the
    daily rows disagree on purpose, so a page that read them would show it."""
    owner_key, member_key = tenancy.owner_key.key, tenancy.member_key.key
    hour_rollup(tenancy.org, at(DAY, 5), key=owner_key, requests=10, cost_pico=3 * PICO_PER_USD)
    hour_rollup(tenancy.org, at(DAY, 5), model="gpt-4o-mini", key=member_key, requests=20,
                cost_pico=PICO_PER_USD // 4)  # fmt: skip
    hour_rollup(tenancy.org, at(DAY, 23), key=member_key, requests=3, cost_pico=PICO_PER_USD)
    hour_rollup(tenancy.org, at(DAY + timedelta(days=1), 0), requests=4, cost_pico=PICO_PER_USD)
    hour_rollup(tenancy.org, at(DAY + timedelta(days=2), 0), model="late", requests=99)
    hour_rollup(tenancy.other_org, at(DAY, 5), model="secret-model", requests=7)
    rollup(tenancy.org, DAY, model="daily-only", requests=1000)
    return DAY


def test_hour_bucket_renders_hours_in_utc(tenancy, hourly):
    q = f"?start={DAY}&end={DAY + timedelta(days=1)}&metric=requests&split=model&bucket=hour"
    r = tenancy.client(tenancy.member).get(PAGE + q)
    assert r.status_code == 200
    html = r.content.decode()
    chart = _chart(html)
    assert chart["bucket"] == "hour" and len(chart["x"]) == 48
    assert chart["x"][0] == "2026-11-10T00:00:00Z" and chart["x"][-1] == "2026-11-11T23:00:00Z"
    series = {s["label"]: s["values"] for s in chart["series"]}
    assert set(series) == {"gpt-4o", "gpt-4o-mini"}
    gpt = series["gpt-4o"]
    assert (gpt[5], gpt[23], gpt[24], sum(gpt)) == (10, 3, 4, 17)
    assert series["gpt-4o-mini"][5] == 20 and sum(series["gpt-4o-mini"]) == 20
    # Totals and tops come from the same hourly rows, not from the daily ones.
    assert '<span class="value" id="usage-requests">37</span>' in html
    assert "daily-only" not in html and "secret-model" not in html and "late" not in html
    # The bucket is kept: in the form, in the CSV link, and UTC is said.
    assert '<option value="hour" selected>Hour</option>' in html
    assert "&amp;split=model&amp;bucket=hour" in html.split('id="usage-csv"')[1].split(">")[0]
    assert "Per UTC hour, 2026-11-10 00:00 to 2026-11-11 24:00 UTC" in html
    assert "Requests per hour (UTC), by model" in html
    # Without scripts, the table shows the hours.
    table = html.split('id="usage-chart-table"')[1].split("</table>")[0]
    assert '<th scope="col">Hour (UTC)</th>' in table
    assert "<tr><td>2026-11-10 05:00</td><td>20</td><td>10</td></tr>" in table
    assert "<tr><td>2026-11-11 00:00</td><td>0</td><td>4</td></tr>" in table
    assert table.count("<tr><td>") == 48


def test_hourly_csv_keeps_the_filters_with_iso_utc_hours(tenancy, hourly):
    client = tenancy.client(tenancy.owner)
    r = client.get(CSV + f"?start={DAY}&end={DAY + timedelta(days=1)}&split=model&bucket=hour")
    assert r.status_code == 200
    assert "usage-org-a-2026-11-10-2026-11-11-model-hourly.csv" in r["Content-Disposition"]
    assert _csv(r) == [
        ["hour", "model", "requests", "errors", "input_tokens", "output_tokens", "cost_usd"],
        ["2026-11-10T05:00:00Z", "gpt-4o", "10", "0", "100", "50", "3.00"],
        ["2026-11-10T05:00:00Z", "gpt-4o-mini", "20", "0", "100", "50", "0.25"],
        ["2026-11-10T23:00:00Z", "gpt-4o", "3", "0", "100", "50", "1.00"],
        ["2026-11-11T00:00:00Z", "gpt-4o", "4", "0", "100", "50", "1.00"],
    ]
    r = client.get(CSV + f"?start={DAY}&end={DAY}&split=none&bucket=hour")
    assert [row[:2] for row in _csv(r)] == [
        ["hour", "requests"],
        ["2026-11-10T05:00:00Z", "30"],
        ["2026-11-10T23:00:00Z", "3"],
    ]
    prefix = tenancy.member_key.key.prefix
    r = client.get(CSV + f"?start={DAY}&end={DAY}&split=key&bucket=hour")
    assert [row[:3] for row in _csv(r)][1:] == [
        ["2026-11-10T05:00:00Z", f"owner's key ({tenancy.owner_key.key.prefix}…)", "10"],
        ["2026-11-10T05:00:00Z", f"member's key ({prefix}…)", "20"],
        ["2026-11-10T23:00:00Z", f"member's key ({prefix}…)", "3"],
    ]


def test_the_hourly_page_follows_an_edited_hourly_rollup(tenancy, hourly):
    client = tenancy.client(tenancy.owner)
    q = f"?start={DAY}&end={DAY}&metric=requests&split=none&bucket=hour"
    assert _chart(client.get(PAGE + q).content.decode())["series"][0]["values"][5] == 30
    UsageRollupHour.objects.filter(
        organization=tenancy.org, hour=at(DAY, 5), model="gpt-4o"
    ).update(requests=1010)
    html = client.get(PAGE + q).content.decode()
    assert _chart(html)["series"][0]["values"][5] == 1030
    assert '<span class="value" id="usage-requests">1,033</span>' in html
    # The daily page reads the daily rows, which the edit did not touch.
    daily = _chart(client.get(PAGE + q.replace("bucket=hour", "bucket=day")).content.decode())
    assert daily["x"] == ["2026-11-10"] and daily["series"][0]["values"] == [1000]


def test_hourly_past_31_days_is_shown_per_day_with_a_message(tenancy, hourly):
    client = tenancy.client(tenancy.owner)
    end = DAY + timedelta(days=31)
    html = client.get(PAGE + f"?start={DAY}&end={end}&bucket=hour").content.decode()
    assert "Hourly buckets are for ranges of at most 31 days" in html and 'role="alert"' in html
    chart = _chart(html)
    assert chart["bucket"] == "day" and len(chart["x"]) == 32 and chart["x"][0] == "2026-11-10"
    assert "&amp;bucket=day" in html and '<option value="day" selected>Day</option>' in html
    r = client.get(CSV + f"?start={DAY}&end={end}&split=none&bucket=hour")
    assert _csv(r)[0][0] == "day"
    # 31 days is still hourly.
    html = client.get(PAGE + f"?start={DAY}&end={end - timedelta(days=1)}&bucket=hour").content
    assert len(_chart(html.decode())["x"]) == 31 * 24 and b"at most 31 days" not in html


def test_a_bad_bucket_says_so_and_shows_days(tenancy):
    html = tenancy.client(tenancy.owner).get(PAGE + "?bucket=week").content.decode()
    assert "Select a valid choice." in html
    chart = _chart(html)
    assert chart["bucket"] == "day" and len(chart["x"]) == 30


def test_hourly_queries_are_as_many_for_2_days_as_for_20_and_as_daily(tenancy):
    keys = [tenancy.owner_key.key, tenancy.member_key.key, None]
    first = at(DAY, 0)
    UsageRollupHour.objects.bulk_create(
        UsageRollupHour(
            organization=tenancy.org, hour=first + timedelta(hours=h), model=f"model-{m}",
            key_id=keys[m % 3].pk if keys[m % 3] else 0, requests=1, cost_pico=m + 1,
        )
        for h in range(0, 20 * 24, 5)
        for m in range(12)
    )  # fmt: skip
    for d in range(20):  # the daily rows too, so both buckets have keys to name
        rollup(tenancy.org, DAY + timedelta(days=d), model="model-0", key=keys[0])
    client = tenancy.client(tenancy.owner)
    client.get(PAGE)  # the session is warm
    for split in ("model", "key", "none"):
        counts = {}
        for days, bucket in ((2, "hour"), (20, "hour"), (20, "day")):
            end = DAY + timedelta(days=days - 1)
            with CaptureQueriesContext(connection) as queries:
                r = client.get(PAGE + f"?start={DAY}&end={end}&split={split}&bucket={bucket}")
            assert r.status_code == 200
            counts[days, bucket] = len(queries)
        assert counts[2, "hour"] == counts[20, "hour"] == counts[20, "day"], (split, counts)
        chart = _chart(r.content.decode())
        assert chart["bucket"] == "day"
    end = DAY + timedelta(days=19)
    chart = _chart(client.get(PAGE + f"?start={DAY}&end={end}&bucket=hour").content.decode())
    # 96 hours × 12 models, the 8 largest drawn and "Other".
    assert len(chart["x"]) == 480 and len(chart["series"]) == 9
    assert round(sum(sum(s["values"]) for s in chart["series"]) * PICO_PER_USD) == 96 * 78
