"""GET /api/orgs/{slug}/requests/: the request log of the management API (CONTRACT.md)."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.api.conftest import bearer, session
from tests.dashboard.request_data import make_records

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
URL = "/api/orgs/{}/requests/"


@pytest.fixture
def logged(tenancy):
    make_records(
        tenancy.org,
        at=T0,
        key=tenancy.owner_key.key,
        input_tokens=10,
        output_tokens=5,
        cost_pico=1_500_000,
        latency_ms=12.5,
        ttft_ms=3.0,
        streamed=True,
    )
    make_records(
        tenancy.org,
        at=T0 + timedelta(minutes=1),
        status="refused",
        http_status=429,
        code="rate_limited",
        model="claude-x",
    )
    make_records(tenancy.other_org, at=T0, model="b-only")
    return tenancy


def test_contract_fields_newest_first_for_a_member(logged):
    response = session(logged.member).get(URL.format("org-a"))

    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["data"]] == ["refused", "ok"]
    ok = body["data"][1]
    assert ok["key_prefix"] == logged.owner_key.key.prefix
    assert ok["cost_usd"] == "0.0000015"
    assert ok["created_at"] == "2026-11-20T12:00:00Z"
    assert (ok["input_tokens"], ok["output_tokens"], ok["streamed"]) == (10, 5, True)
    assert (ok["latency_ms"], ok["ttft_ms"], ok["http_status"]) == (12.5, 3.0, 200)
    assert body["data"][0]["key_prefix"] is None and body["data"][0]["code"] == "rate_limited"
    assert body["older_cursor"] is None and body["newer_cursor"] is None
    assert {
        "request_id",
        "created_at",
        "key_prefix",
        "model",
        "status",
        "http_status",
        "streamed",
        "cost_usd",
        "latency_ms",
        "ttft_ms",
    } <= set(ok)


def test_management_key_reads_its_own_org_only(logged, mgmt_a, mgmt_b):
    assert bearer(mgmt_a.secret).get(URL.format("org-a")).status_code == 200
    assert bearer(mgmt_b.secret).get(URL.format("org-a")).status_code == 404
    own = bearer(mgmt_b.secret).get(URL.format("org-b")).json()
    assert [r["model"] for r in own["data"]] == ["b-only"]


def test_outsider_and_anonymous(logged):
    assert session(logged.outsider).get(URL.format("org-a")).status_code == 404
    assert bearer("jinf_nope").get(URL.format("org-a")).status_code in (401, 403)


def test_an_inference_key_is_not_a_management_key(logged):
    response = bearer(logged.owner_key.secret).get(URL.format("org-a"))
    assert response.status_code in (401, 403)


def test_filters(logged):
    client = session(logged.owner)
    assert [
        r["model"] for r in client.get(URL.format("org-a"), {"model": "claude-x"}).data["data"]
    ] == ["claude-x"]
    assert len(client.get(URL.format("org-a"), {"status": "ok"}).data["data"]) == 1
    assert len(client.get(URL.format("org-a"), {"key": logged.owner_key.key.pk}).data["data"]) == 1
    assert client.get(URL.format("org-a"), {"start": "2026-11-21"}).data["data"] == []
    assert len(client.get(URL.format("org-a"), {"end": "2026-11-20"}).data["data"]) == 2


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ({"start": "20261120"}, "start"),
        ({"end": "tomorrow"}, "end"),
        ({"start": "2026-11-20", "end": "2026-11-01"}, "end"),
        ({"status": "weird"}, "status"),
        ({"key": "k"}, "key"),
        ({"before": "x"}, "before"),
        ({"after": "1-"}, "after"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"limit": "ten"}, "limit"),
    ],
)
def test_bad_params_are_400_naming_the_parameter(logged, query, param):
    response = session(logged.owner).get(URL.format("org-a"), query)
    assert response.status_code == 400
    assert param in response.json()


def test_cursor_pages_cover_every_record_once(tenancy):
    make_records(tenancy.org, at=T0, count=25)
    make_records(tenancy.org, at=T0 - timedelta(seconds=1), count=6)
    client = session(tenancy.owner)
    seen, params = [], {"limit": 7}
    while True:
        body = client.get(URL.format("org-a"), params).json()
        seen += [r["request_id"] for r in body["data"]]
        if not body["older_cursor"]:
            break
        params = {"limit": 7, "before": body["older_cursor"]}
    assert len(seen) == len(set(seen)) == 31
    newer = client.get(URL.format("org-a"), {"limit": 7, "after": body["newer_cursor"]}).json()
    assert [r["request_id"] for r in newer["data"]] == seen[-10:-3]


def test_the_schema_lists_it(db):
    from rest_framework.test import APIClient

    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    assert "/api/orgs/{slug}/requests/" in schema["paths"]
