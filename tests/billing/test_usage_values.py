"""Usage values made sane at the source (billing/usage_checks.py): whatever an upstream
reports, the record is written, the figures fit their columns, and no cost is negative:
not on the record, not in the ledger, not in the `usage.cost` the client is shown."""

import asyncio
import itertools
import socket
import threading
import time
from dataclasses import fields
from types import SimpleNamespace

import httpx
import orjson
import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.models import CreditLedgerEntry, UsageQuarantine, UsageRecord
from billing.quarantine import usage_write
from billing.usage import UsageEvent
from billing.usage_checks import LENGTHS, MAX_COST_PICO, MAX_TOKENS, counts_sane, usage_sane
from proxy import table
from proxy.call import Call, Outcome
from proxy.routes_file import apply
from proxy.table import Prices
from proxy.translate.canonical import Usage
from tests.processes import wait_for
from tests.proxy.conftest import PRICE, make_tenant

ints = st.one_of(
    st.integers(),
    st.sampled_from([-1, 0, MAX_TOKENS - 1, MAX_TOKENS, MAX_TOKENS + 1, 2**63, -(2**63)]),
)
any_text = st.text(st.characters(exclude_categories=[]), max_size=400) | st.just("a\x00b")
durations = st.floats(allow_nan=True, allow_infinity=True) | st.none() | st.integers()
TOKENS = ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens")
_ids = itertools.count()


def test_the_column_lengths_are_the_models():
    lengths = {
        f.name: f.max_length
        for f in UsageRecord._meta.concrete_fields
        if f.get_internal_type() == "CharField"
    }
    assert lengths == LENGTHS


@given(i=ints, o=ints, c=ints, w=ints)
def test_sane_counts_fit_a_record_and_are_flagged_when_capped(i, o, c, w):
    (si, so, sc, sw), flagged = counts_sane(i, o, c, w)
    assert all(0 <= n <= MAX_TOKENS for n in (si, so, sc, sw))
    assert sc <= si and sw <= si - sc
    in_range = all(0 <= n < MAX_TOKENS for n in (i, o, c, w)) and c <= i and w <= i - c
    assert flagged == (not in_range)
    if in_range:
        assert (si, so, sc, sw) == (i, o, c, w)


@given(
    usage=st.builds(Usage, ints, ints, ints, ints),
    prices=st.tuples(ints, ints, st.none() | ints, st.none() | ints),
)
def test_a_price_is_never_below_zero(usage, prices):
    model = SimpleNamespace(price_at=lambda at: Prices(*prices))
    call = SimpleNamespace(model=model, started_at=0.0, price=lambda u: Call.price(call, u))
    cost = Call.price(call, usage)
    assert 0 <= cost.pico <= MAX_COST_PICO and cost.usd >= 0
    outcome = Outcome()
    outcome.charge(call, usage)
    kept = outcome.usage
    assert all(0 <= n <= MAX_TOKENS for n in (kept.input, kept.output, kept.cached))
    assert 0 <= outcome.cost_pico <= MAX_COST_PICO


def test_any_event_made_sane_is_written_with_no_negative_cost(db):
    tenant = make_tenant("values")

    @settings(max_examples=150, deadline=None)
    @given(
        counts=st.tuples(ints, ints, ints, ints),
        texts=st.fixed_dictionaries({name: any_text for name in LENGTHS}),
        cost=ints,
        latency=durations,
        ttft=durations,
        small=st.tuples(ints, ints),
        deployment=st.none() | ints,
        key=st.booleans(),
    )
    def one(counts, texts, cost, latency, ttft, small, deployment, key):
        rid = f"req_values_{next(_ids)}"
        event = UsageEvent(
            **{**texts, "request_id": rid},
            organization_id=tenant.org.pk,
            api_key_id=tenant.key.pk if key else None,
            **dict(zip(TOKENS, counts, strict=True)),
            cost_pico=cost,
            latency_ms=latency,
            ttft_ms=ttft,
            http_status=small[0],
            attempts=small[1],
            deployment_id=deployment,
        )
        sane = usage_sane(event)
        assert usage_write([sane]).records == 1
        row = UsageRecord.objects.get(request_id=rid)
        assert row.cost_pico >= 0
        assert all(0 <= getattr(row, name) <= MAX_TOKENS for name in TOKENS)
        assert row.cached_tokens <= row.input_tokens
        for name in LENGTHS:
            assert "\x00" not in getattr(row, name) and len(getattr(row, name)) <= LENGTHS[name]
        out_of_range = not all(0 <= n < MAX_TOKENS for n in counts)
        assert row.flagged or not out_of_range
        assert row.latency_ms >= 0 and (row.ttft_ms is None or row.ttft_ms >= 0)

    one()
    assert not UsageQuarantine.objects.filter(request_id__startswith="req_values_").exists()
    assert not CreditLedgerEntry.objects.filter(kind="usage", amount_pico__gt=0).exists()


def test_a_sane_event_is_the_same_object():
    event = UsageEvent("req_x", 1, 2, "chat", "demo", "ok", input_tokens=5, latency_ms=1.0)
    assert usage_sane(event) is event
    assert {f.name for f in fields(UsageEvent)} >= set(LENGTHS) | set(TOKENS)


# --- Through a real request: an upstream that reports absurd usage --------------------


class Liar:
    """An OpenAI-kind upstream on loopback that reports the usage the request's
    `x_usage` asks for, or answers 400 with the `x_error` bytes (NULs included)."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            lifespan="off",
            log_level="warning",
            interface="asgi3",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def app(self, scope, receive, send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        request = orjson.loads(body)
        if request.get("x_error"):
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
            await send({"type": "http.response.body", "body": request["x_error"].encode()})
            return
        usage = request.get("x_usage")
        if not request.get("stream"):
            answer = {"id": "c1", "object": "chat.completion", "created": 0, "model": "m",
                      "choices": [{"index": 0, "finish_reason": "stop",
                                   "message": {"role": "assistant", "content": "hi"}}],
                      "usage": usage}  # fmt: skip
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": orjson.dumps(answer)})
            return
        base = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        events = [
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]},
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {**base, "choices": [], "usage": usage},
        ]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
        for event in events:
            await send({"type": "http.response.body", "body": b"data: " + orjson.dumps(event)
                        + b"\n\n", "more_body": True})  # fmt: skip
            await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})

    def __enter__(self) -> "Liar":
        self.thread.start()
        assert wait_for(lambda: self.server.started, timeout_s=10, interval_s=0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(5)


@pytest.fixture
def liar(transactional_db):
    with Liar() as upstream:
        apply(
            {
                "providers": [{"name": "liar", "kind": "openai", "base_url": upstream.url,
                               "api_key": "sk-liar"}],
                "models": [{"name": "liar", "price": PRICE,
                            "deployments": [{"provider": "liar", "model": "m"}]}],
            }
        )  # fmt: skip
        table.invalidate()
        yield upstream


def _cost_shown(response: httpx.Response, stream: bool) -> float | None:
    if not stream:
        return (response.json().get("usage") or {}).get("cost")
    costs = [
        (orjson.loads(line[6:]).get("usage") or {}).get("cost")
        # SSE lines end in \n only: str.splitlines would also split inside a JSON string
        # at U+0085 or U+2028, which hypothesis puts in usage values.
        for line in response.text.split("\n")
        if line.startswith("data: {")
    ]
    return next((c for c in costs if c is not None), None)


def test_absurd_upstream_usage_is_never_priced_below_zero(asgi_server, liar):
    tenant = make_tenant("liar", usd_pico=5 * 10**18)  # capped counts cost ~$8k a call
    sent: list[str] = []
    shown: list[float] = []
    raw = ints | st.floats(allow_nan=False, allow_infinity=False) | st.none() | st.text(max_size=5)

    @settings(max_examples=60, deadline=None)
    @given(
        usage=st.fixed_dictionaries(
            {"prompt_tokens": raw, "completion_tokens": raw, "total_tokens": raw},
            optional={"prompt_tokens_details": st.fixed_dictionaries({"cached_tokens": raw})},
        ),
        stream=st.booleans(),
    )
    def one(usage, stream):
        body = {
            "model": "liar",
            "messages": [{"role": "user", "content": "hi"}],
            "stream": stream,
            "stream_options": {"include_usage": True},
            "x_usage": usage,
        }
        if not stream:
            del body["stream_options"]
        r = httpx.post(asgi_server.url + "/v1/chat/completions", json=body, timeout=10,
                       headers={"Authorization": f"Bearer {tenant.secret}"})  # fmt: skip
        assert r.status_code == 200, r.text
        sent.append(r.headers["x-request-id"])
        cost = _cost_shown(r, stream)
        if cost is not None:
            shown.append(cost)
            assert cost >= 0, (usage, cost)

    one()
    assert shown, "the upstream's usage never reached the client"
    assert wait_for(
        lambda: UsageRecord.objects.filter(request_id__in=sent).count() == len(sent), 10
    ), f"{UsageRecord.objects.filter(request_id__in=sent).count()} of {len(sent)} recorded"
    assert not UsageRecord.objects.filter(cost_pico__lt=0).exists()
    assert not UsageQuarantine.objects.filter(request_id__in=sent).exists()
    assert not CreditLedgerEntry.objects.filter(kind="usage", amount_pico__gt=0).exists()


def test_a_huge_count_is_capped_and_flagged_and_a_nul_in_an_error_is_written(asgi_server, liar):
    tenant = make_tenant("huge", usd_pico=10**18)
    url = asgi_server.url + "/v1/chat/completions"
    auth = {"Authorization": f"Bearer {tenant.secret}"}
    ask = [{"role": "user", "content": "hi"}]
    huge = {"prompt_tokens": 2**40, "completion_tokens": 2**31, "total_tokens": -1,
            "prompt_tokens_details": {"cached_tokens": 2**41}}  # fmt: skip
    r = httpx.post(url, headers=auth, json={"model": "liar", "messages": ask, "x_usage": huge})
    assert r.status_code == 200 and r.json()["usage"]["cost"] >= 0
    capped = r.headers["x-request-id"]
    r = httpx.post(url, headers=auth, json={"model": "liar", "messages": ask, "x_error": "bad\x00"})
    assert r.status_code == 400
    nul = r.headers["x-request-id"]
    assert wait_for(lambda: UsageRecord.objects.filter(request_id__in=[capped, nul]).count() == 2)
    row = UsageRecord.objects.get(request_id=capped)
    assert row.flagged and row.input_tokens == MAX_TOKENS == row.cached_tokens
    assert row.output_tokens == MAX_TOKENS and 0 <= row.cost_pico <= MAX_COST_PICO
    error = UsageRecord.objects.get(request_id=nul).error
    assert "bad" in error and "\x00" not in error
    time.sleep(0.3)
    assert not UsageQuarantine.objects.filter(request_id__in=[capped, nul]).exists()
