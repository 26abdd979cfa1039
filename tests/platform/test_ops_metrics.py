"""/metrics tells what the gateway served: the same counts as its usage records.

Calls of each kind go through the real /v1 (the ASGI server, the sandbox upstream): plain,
streamed, a fallback, every deployment failing, refusals. Then the request counter and
both histograms, by model and status, equal the usage records' counts, and the records
written equal the records. The metrics are the process's (they only grow), so the test
compares what it adds.
"""

from collections import Counter

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from billing.models import UsageRecord
from proxy import metrics
from sandbox.server import SandboxServer
from tests.processes import wait_for
from tests.proxy.conftest import _fresh_proxy_state, load_routes, make_tenant  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

ASK = [{"role": "user", "content": "hi"}]


@pytest.fixture
def upstream():
    server = SandboxServer().start()
    try:
        yield server
    finally:
        server.stop()


def scrape(server) -> dict[tuple[str, frozenset], float]:
    r = httpx.get(server.url + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    out = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            if s.name.startswith("jinf_"):
                out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def added(before: dict, after: dict, name: str, key: tuple[str, ...]) -> Counter:
    """What `after` adds to `before` for the samples called `name`, by the labels `key`
    (the histograms' le buckets left out)."""
    out: Counter = Counter()
    for (sample, labels), value in after.items():
        if sample != name:
            continue
        delta = value - before.get((sample, labels), 0.0)
        if delta:
            d = dict(labels)
            out[tuple(d[k] for k in key)] += delta
    return out


def test_metrics_count_what_the_usage_records_say(asgi_server, upstream):
    tenant = make_tenant()
    load_routes(
        upstream,
        {
            "demo": [{"model": "demo"}],
            "fallback": [{"model": "bad@fault=500"}, {"model": "good", "priority": 1}],
            "broken": [{"model": "a@fault=500"}, {"model": "b@fault=503", "priority": 1}],
        },
        timeout_s=2.0,
    )
    before = scrape(asgi_server)
    client = tenant.client(asgi_server)
    for _ in range(3):
        client.chat.completions.create(model="demo", messages=ASK)
    for _ in range(2):
        for _chunk in client.chat.completions.create(model="demo", messages=ASK, stream=True):
            pass
    client.chat.completions.create(model="fallback", messages=ASK)
    url, auth = asgi_server.url + "/v1/chat/completions", f"Bearer {tenant.secret}"

    def post(body: dict) -> int:
        return httpx.post(url, json=body, headers={"Authorization": auth}, timeout=10).status_code

    assert post({"model": "broken", "messages": ASK}) == 503
    assert post({"model": "no-such-model", "messages": ASK}) == 404
    assert post({"model": "demo", "messages": ASK, "max_tokens": -1}) == 400

    assert wait_for(lambda: UsageRecord.objects.count() >= 9, timeout_s=10)
    records = list(UsageRecord.objects.all())
    assert len(records) == 9

    def label(r: UsageRecord) -> str:  # a name the routes do not know is not a label
        return metrics.UNKNOWN_MODEL if r.code == "model_not_found" else r.model

    by_status = Counter((label(r), r.status) for r in records)
    assert {s for _, s in by_status} >= {"ok", "upstream_error", "refused"}
    with_ttft = Counter((label(r), r.status) for r in records if r.ttft_ms is not None)
    assert with_ttft  # the streams had a first token

    # The writer counts after its commit: wait for it to catch up with the records.
    assert wait_for(
        lambda: (
            added(before, scrape(asgi_server), "jinf_usage_records_written_total", ())[()]
            >= len(records)
        ),
        timeout_s=10,
    )
    after = scrape(asgi_server)
    key = ("model", "status")
    assert added(before, after, "jinf_requests_total", key) == by_status
    assert added(before, after, "jinf_request_duration_seconds_count", key) == by_status
    assert added(before, after, "jinf_time_to_first_token_seconds_count", key) == with_ttft
    assert added(before, after, "jinf_usage_records_written_total", ())[()] == len(records)
    queued = added(before, after, "jinf_usage_records_queued_total", ("via",))
    assert sum(queued.values()) == len(records)

    # fallback: one failed attempt, then another deployment; broken: two failed attempts.
    assert sum(r.attempts for r in records if r.model == "fallback") == 2
    fallbacks = added(before, after, "jinf_upstream_fallbacks_total", ("model",))
    assert fallbacks == Counter({("fallback",): 1, ("broken",): 1})
    errors = added(before, after, "jinf_upstream_errors_total", ("model",))
    assert errors == Counter({("fallback",): 1, ("broken",): 2})
