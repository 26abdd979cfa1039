"""The request log's pages: tenancy, filters, keyset pages, refusals, detail, CSV."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from dashboard import request_log
from dashboard.request_log import Cursor, LogFilters
from tests.dashboard.request_data import make_records

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def logged(tenancy):
    """A's traffic: two keys, two models, a refusal; and B's, which A never sees."""
    owner_key, member_key = tenancy.owner_key.key, tenancy.member_key.key
    make_records(tenancy.org, at=T0, key=owner_key, model="gpt-4o-mini", cost_pico=1_234_567)
    make_records(tenancy.org, at=T0 + timedelta(hours=1), key=member_key, model="claude-x")
    make_records(
        tenancy.org,
        at=T0 + timedelta(days=2),
        key=owner_key,
        model="gpt-4o-mini",
        status="refused",
        http_status=402,
        code="insufficient_credits",
        error="Add credits in the portal.",
    )
    make_records(tenancy.other_org, at=T0, key=tenancy.other_key.key, model="b-secret-model")
    return tenancy


def ids_on(body: str) -> list[str]:
    return re.findall(r'title="(req-log-[^"]+)"', body)


@pytest.mark.parametrize("who", ["owner", "member"])
def test_members_see_their_org_log_newest_first(logged, who):
    response = logged.client(getattr(logged, who)).get(reverse("requests", args=["org-a"]))

    assert response.status_code == 200
    body = response.content.decode()
    assert "b-secret-model" not in body
    rows = re.findall(r'<tr id="req-\d+" class="status-(\w+)"', body)
    assert rows == ["refused", "ok", "ok"]  # newest first, the refusal included
    assert "insufficient_credits" in body and "402" in body
    assert 'title="$0.000001234567"' in body  # exact cost on hover


def test_outsider_gets_404_on_page_detail_and_csv(logged):
    client = logged.client(logged.outsider)
    record = logged.org.usagerecord_set.first()
    for url in (
        reverse("requests", args=["org-a"]),
        reverse("requests_csv", args=["org-a"]),
        reverse("request_detail", args=["org-a", record.request_id]),
    ):
        assert client.get(url).status_code == 404, url


def test_signed_out_is_sent_to_sign_in(logged):
    from django.test import Client

    response = Client().get(reverse("requests", args=["org-a"]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(
    ("query", "statuses"),
    [
        ({"model": "claude-x"}, ["ok"]),
        ({"status": "refused"}, ["refused"]),
        ({"start": "2026-11-22"}, ["refused"]),
        ({"end": "2026-11-20"}, ["ok", "ok"]),
        ({"start": "2026-11-20", "end": "2026-11-20", "model": "gpt-4o-mini"}, ["ok"]),
    ],
)
def test_filters_are_applied_and_kept_in_the_links(logged, query, statuses):
    response = logged.client(logged.owner).get(reverse("requests", args=["org-a"]), query)

    body = response.content.decode()
    assert re.findall(r'class="status-(\w+)"', body) == statuses
    csv_link = re.search(r'id="requests-csv" href="([^"]+)"', body).group(1)
    for name, value in query.items():
        assert f"{name}={value}" in csv_link


def test_key_filter(logged):
    key = logged.member_key.key
    response = logged.client(logged.owner).get(reverse("requests", args=["org-a"]), {"key": key.pk})
    body = response.content.decode()
    assert body.count('<tr id="req-') == 1 and "claude-x" in body
    assert f'<option value="{key.pk}" selected>' in body


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ({"start": "yesterday"}, "is not a day"),
        ({"end": "2026-13-40"}, "is not a day"),
        ({"start": "2026-11-22", "end": "2026-11-01"}, "end comes before the start"),
        ({"status": "nope"}, "Status is one of"),
        ({"key": "abc"}, "is not a key id"),
        ({"key": "9" * 40}, "is not a key id"),
        ({"before": "garbage"}, "not valid any more"),
        ({"after": "1-x"}, "not valid any more"),
        ({"before": "99999999999999999999999-1"}, "not valid any more"),
    ],
)
def test_bad_filters_give_a_message_not_a_500(logged, query, says):
    response = logged.client(logged.owner).get(reverse("requests", args=["org-a"]), query)

    assert response.status_code == 200
    assert says in response.content.decode()
    csv_response = logged.client(logged.owner).get(reverse("requests_csv", args=["org-a"]), query)
    assert csv_response.status_code == (200 if set(query) <= {"before", "after"} else 400)


def test_a_bad_filter_keeps_the_good_ones(logged):
    response = logged.client(logged.owner).get(
        reverse("requests", args=["org-a"]), {"model": "claude-x", "start": "bad"}
    )
    body = response.content.decode()
    assert "is not a day" in body and body.count('<tr id="req-') == 1


def walk(org, filters, size):
    """Every page from the newest by the "older" cursors, then back by the "newer" ones."""
    pages, page = [], request_log.request_log_page(organization=org, filters=filters, size=size)
    pages.append(page)
    while page.older:
        page = request_log.request_log_page(
            organization=org, filters=filters, before=page.older, size=size
        )
        pages.append(page)
    back = [page]
    while back[-1].newer:
        back.append(
            request_log.request_log_page(
                organization=org, filters=filters, after=back[-1].newer, size=size
            )
        )
    return pages, back


def test_keyset_pages_cover_every_row_once_even_with_equal_timestamps(tenancy):
    # 23 records at one instant, 10 at another, 4 alone: pages of 5 cut through the ties.
    rows = make_records(tenancy.org, at=T0, count=23)
    rows += make_records(tenancy.org, at=T0 + timedelta(seconds=1), count=10)
    for i in range(4):
        rows += make_records(tenancy.org, at=T0 - timedelta(minutes=i + 1))
    make_records(tenancy.other_org, at=T0, count=7)

    pages, back = walk(tenancy.org, LogFilters(), size=5)

    seen = [r.pk for p in pages for r in p.records]
    assert len(seen) == len(set(seen)) == len(rows) == 37
    assert set(seen) == {r.pk for r in rows}
    expected = sorted(rows, key=lambda r: (r.created_at, r.pk), reverse=True)
    assert seen == [r.pk for r in expected]
    assert len(pages) == 8 and pages[0].newer is None and pages[-1].older is None
    # Back up by "newer": the same rows, in the same order, the newest page last.
    seen_back = [r.pk for p in reversed(back) for r in p.records]
    assert sorted(seen_back) == sorted(seen) and len(seen_back) == len(set(seen_back))
    assert back[-1].records[0].pk == expected[0].pk


def test_pages_through_the_views_keep_filters(tenancy):
    key = tenancy.owner_key.key
    make_records(tenancy.org, at=T0, count=60, key=key, model="m1")
    make_records(tenancy.org, at=T0, count=30, model="m2")
    client = tenancy.client(tenancy.owner)
    url = reverse("requests", args=["org-a"]) + "?model=m1"
    seen = []
    while url:
        body = client.get(url).content.decode()
        seen += ids_on(body)
        more = re.search(r'href="\?([^"]+)" id="older-requests"', body)
        url = (
            reverse("requests", args=["org-a"]) + "?" + more.group(1).replace("&amp;", "&")
            if more
            else ""
        )
        if more:
            assert "model=m1" in more.group(1)
    assert len(seen) == len(set(seen)) == 60


def test_cursor_round_trips_to_the_microsecond():
    at = datetime(2026, 11, 20, 12, 0, 0, 123457, tzinfo=UTC)
    assert Cursor.parse(str(Cursor(at, 42))) == Cursor(at, 42)


def test_query_count_is_constant_per_page(tenancy):
    make_records(tenancy.org, at=T0, count=5, key=tenancy.owner_key.key)
    client = tenancy.client(tenancy.owner)
    url = reverse("requests", args=["org-a"])
    client.get(url)  # warm the session, the site's caches

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(url)
    make_records(tenancy.org, at=T0, count=45, key=tenancy.member_key.key, model="other")
    with CaptureQueriesContext(connection) as many:
        body = client.get(url).content.decode()
    assert body.count('<tr id="req-') == 50
    assert len(many) == len(few)


def test_detail_shows_what_served_it(tenancy):
    (record,) = make_records(
        tenancy.org,
        at=T0,
        key=tenancy.owner_key.key,
        model="smart",
        provider="openai-main",
        upstream_model="gpt-4o-2024-08-06",
        input_tokens=1200,
        output_tokens=340,
        cached_tokens=1000,
        cache_write_tokens=50,
        tokens_estimated=True,
        cost_pico=98_765_432,
        latency_ms=812.4,
        ttft_ms=123.4,
        streamed=True,
        attempts=3,
        status="upstream_error",
        http_status=502,
        code="upstream_error",
        error="The upstream timed out.",
    )
    response = tenancy.client(tenancy.member).get(
        reverse("request_detail", args=["org-a", record.request_id])
    )

    assert response.status_code == 200
    body = response.content.decode()
    for text in (
        "openai-main",
        "gpt-4o-2024-08-06",
        "1200 input (1000 cached, 50 cache write)",
        "340 output",
        "estimated",
        "$0.000098",
        'title="$0.000098765432"',
        "812.4 ms",
        "123.4 ms",
        "3 (2 fallbacks)",
        "HTTP 502",
        "The upstream timed out.",
        tenancy.owner_key.key.prefix,
    ):
        assert text in body, text


def test_another_orgs_request_is_404(tenancy):
    (theirs,) = make_records(tenancy.other_org, at=T0)
    client = tenancy.client(tenancy.owner)
    assert (
        client.get(reverse("request_detail", args=["org-a", theirs.request_id])).status_code == 404
    )
    assert client.get(reverse("request_detail", args=["org-a", "nope"])).status_code == 404


def test_csv_keeps_the_filters_and_is_streamed(logged):
    response = logged.client(logged.member).get(
        reverse("requests_csv", args=["org-a"]), {"model": "gpt-4o-mini"}
    )

    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["status"] for r in rows] == ["refused", "ok"]
    assert rows[0]["code"] == "insufficient_credits" and rows[0]["http_status"] == "402"
    assert rows[1]["cost_usd"] == "0.000001234567"
    assert rows[1]["key_prefix"] == logged.owner_key.key.prefix


def test_csv_is_bounded_and_chunked(tenancy, monkeypatch):
    monkeypatch.setattr(request_log, "CSV_CHUNK", 4)
    make_records(tenancy.org, at=T0, count=11)
    rows = list(request_log.request_log_rows(organization=tenancy.org, filters=LogFilters()))
    assert len({r["id"] for r in rows}) == 11
    capped = request_log.request_log_rows(organization=tenancy.org, filters=LogFilters(), limit=6)
    assert len(list(capped)) == 6


def test_csv_quotes_formulas_a_client_sent(tenancy):
    make_records(tenancy.org, at=T0, model='=HYPERLINK("http://x")')
    response = tenancy.client(tenancy.owner).get(reverse("requests_csv", args=["org-a"]))
    (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert row["model"].startswith("'=")
