"""A real loopback upstream with faults: fallbacks, cooldown, error shapes, one record each."""

import httpx
import openai
import pytest

from billing.models import UsageRecord
from tests.proxy.conftest import load_routes, records

ASK = [{"role": "user", "content": "hi"}]


def count(sandbox, upstream_model: str) -> int:
    return sum(1 for r in sandbox.state.requests if r["model"] == upstream_model)


@pytest.mark.parametrize(
    "fault",
    ["fault=500", "fault=429", "fault=503", "fault=timeout", "first_byte_ms=3000", "fault=drop"],
)
def test_falls_back_before_the_first_byte(asgi_server, sandbox, tenant, fault):
    bad = f"bad@{fault}"
    load_routes(
        sandbox,
        {"m": [{"model": bad, "priority": 0}, {"model": "good", "priority": 1}]},
        timeout_s=1.0,
    )
    answer = tenant.client(asgi_server).chat.completions.create(model="m", messages=ASK)
    assert answer.choices[0].message.content
    assert count(sandbox, bad) == 1 and count(sandbox, "good") == 1
    (record,) = records(1)
    assert record.status == "ok" and record.attempts == 2 and record.upstream_model == "good"


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("fault=500", 502),
        ("fault=429", 503),
        ("fault=503", 503),
        ("fault=timeout", 504),
        ("fault=drop", 502),
    ],
)
def test_all_deployments_failing_gives_the_contract_status(
    asgi_server, sandbox, tenant, fault, status
):
    load_routes(
        sandbox,
        {"m": [{"model": f"a@{fault}"}, {"model": f"b@{fault}", "priority": 1}]},
        timeout_s=1.0,
    )
    r = httpx.post(
        asgi_server.url + "/v1/chat/completions",
        json={"model": "m", "messages": ASK},
        headers={"Authorization": f"Bearer {tenant.secret}"},
        timeout=10,
    )
    assert r.status_code == status
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert r.headers["x-request-id"]
    (record,) = records(1)
    assert record.status == "upstream_error" and record.http_status == status
    assert record.attempts == 2 and record.cost_pico == 0


def test_client_errors_from_upstream_pass_through_without_fallback(asgi_server, sandbox, tenant):
    load_routes(sandbox, {"m": [{"model": "a@fault=oops"}, {"model": "b", "priority": 1}]})
    with pytest.raises(openai.BadRequestError):
        tenant.client(asgi_server).chat.completions.create(model="m", messages=ASK)
    assert count(sandbox, "b") == 0
    assert records(1)[0].status == "client_error"


def test_invalid_json_is_a_502(asgi_server, sandbox, tenant):
    load_routes(sandbox, {"m": [{"model": "a@fault=invalid_json"}]})
    with pytest.raises(openai.APIStatusError) as info:
        tenant.client(asgi_server).chat.completions.create(model="m", messages=ASK)
    assert info.value.status_code == 502
    assert records(1)[0].status == "upstream_error"


@pytest.mark.parametrize("fault", ["fault=drop", "fault=invalid_json"])
def test_upstream_dying_mid_stream_ends_with_an_openai_error_event(
    asgi_server, sandbox, tenant, fault
):
    load_routes(sandbox, {"m": [{"model": f"a@{fault},chunks=20"}, {"model": "b", "priority": 1}]})
    stream = tenant.client(asgi_server).chat.completions.create(
        model="m", messages=ASK, stream=True
    )
    received = []
    with pytest.raises(openai.APIError, match="mid-stream"):
        for chunk in stream:
            received.append(chunk)
    assert received, "some chunks arrived before the failure"
    assert count(sandbox, "b") == 0, "nothing is retried once bytes reached the client"
    (record,) = records(1)
    assert record.status == "upstream_error" and record.tokens_estimated
    assert record.output_tokens > 0 and record.cost_pico > 0


def test_failing_deployment_cools_down_then_is_retried(asgi_server, sandbox, tenant, settings):
    settings.PROXY_COOLDOWN_S = 1.5
    load_routes(
        sandbox, {"m": [{"model": "bad@fault=500", "weight": 1}, {"model": "good", "priority": 1}]}
    )
    client = tenant.client(asgi_server)
    for _ in range(3):
        client.chat.completions.create(model="m", messages=ASK)
    assert count(sandbox, "bad@fault=500") == 3  # three failures in a row: cooled down
    client.chat.completions.create(model="m", messages=ASK)
    assert count(sandbox, "bad@fault=500") == 3, "a cooled-down deployment is skipped"
    import time

    time.sleep(1.6)
    client.chat.completions.create(model="m", messages=ASK)
    assert count(sandbox, "bad@fault=500") == 4, "after the cooldown it is tried again"
    assert len(records(5)) == 5


def test_weights_spread_load_within_a_priority(asgi_server, sandbox, tenant):
    load_routes(sandbox, {"m": [{"model": "heavy", "weight": 9}, {"model": "light", "weight": 1}]})
    client = tenant.client(asgi_server)
    for _ in range(40):
        client.chat.completions.create(model="m", messages=ASK)
    heavy, light = count(sandbox, "heavy"), count(sandbox, "light")
    assert heavy + light == 40 and heavy > light >= 0 and heavy >= 25
    assert UsageRecord.objects.count() <= 40


def test_a_gateway_failure_mid_stream_still_ends_with_an_error_event(
    asgi_server, sandbox, tenant, monkeypatch
):
    """A bug that strikes after the stream began cannot change the 200 already sent; the
    client still gets its shape's error event instead of a silently cut stream."""
    from proxy import relays

    feed = relays.NativeRelay.feed
    calls = []

    def breaks_on_the_second_read(self, raw):
        calls.append(raw)
        if len(calls) > 1:
            raise RuntimeError("a bug in the relay")
        return feed(self, raw)

    monkeypatch.setattr(relays.NativeRelay, "feed", breaks_on_the_second_read)
    load_routes(sandbox, {"m": [{"model": "a@chunks=20,delay_ms=5"}]})
    stream = tenant.client(asgi_server).chat.completions.create(
        model="m", messages=ASK, stream=True
    )
    received = []
    with pytest.raises(openai.APIError, match="The gateway failed"):
        for chunk in stream:
            received.append(chunk)
    assert received, "what came before the failure arrived"
    (record,) = records(1)
    assert record.status == "upstream_error" and record.tokens_estimated
