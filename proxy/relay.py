"""One call through the gateway: pick deployments, fall back before the first byte,
relay the answer, and emit exactly one usage event whatever happens."""

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

import httpx
import orjson

from billing.models import UsageStatus
from billing.usage import UsageEvent, cost_pico
from proxy import balancer, limits
from proxy.auth import KeyInfo
from proxy.errors import ProxyError
from proxy.providers import openai as openai_kind
from proxy.table import DeploymentEntry, ModelEntry
from proxy.upstream import client
from proxy.usage_sink import sink

RETRYABLE_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))
PICO_PER_USD = Decimal(10**12)


class ClientOut(Protocol):
    async def open(self, status: int, headers: list[tuple[bytes, bytes]]) -> None: ...
    async def write(self, data: bytes, *, more: bool) -> None: ...


@dataclass
class Call:
    request_id: str
    endpoint: str
    key: KeyInfo
    model: ModelEntry
    body: dict
    started: float = field(default_factory=time.perf_counter)

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def include_usage(self) -> bool:
        return bool((self.body.get("stream_options") or {}).get("include_usage"))

    def price(self, usage: openai_kind.Usage) -> tuple[int, float]:
        pico = cost_pico(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            input_price=self.model.input_price,
            output_price=self.model.output_price,
            cached_input_price=self.model.cached_input_price,
        )
        return pico, float(Decimal(pico) / PICO_PER_USD)


@dataclass
class Opened:
    """An upstream response whose first body chunk has arrived."""

    response: httpx.Response
    first: bytes
    chunks: object  # the response's raw-chunk iterator, already advanced past `first`

    async def body(self):
        yield self.first
        async for chunk in self.chunks:
            yield chunk

    async def read(self) -> bytes:
        try:
            return b"".join([c async for c in self.body()])
        finally:
            await self.response.aclose()


@dataclass
class Outcome:
    """What the usage record will say; filled in as the call goes."""

    status: str = UsageStatus.UPSTREAM_ERROR
    http_status: int = 502
    deployment: DeploymentEntry | None = None
    usage: openai_kind.Usage | None = None
    estimated: bool = False
    cost_pico: int = 0
    ttft_ms: float | None = None
    attempts: int = 0
    error: str = ""


async def relay(call: Call, out: ClientOut) -> None:
    outcome = Outcome()
    try:
        opened = await _open(call, outcome)
        if opened.response.status_code >= 400:
            await _pass_error(opened, out, outcome)
        elif call.stream:
            await _relay_stream(call, opened, out, outcome)
        else:
            await _relay_json(call, opened, out, outcome)
    except asyncio.CancelledError:
        outcome.status, outcome.http_status = UsageStatus.CLIENT_ABORT, 499
        outcome.error = outcome.error or "The client disconnected."
        if outcome.usage is None and outcome.attempts:
            outcome.usage, outcome.estimated = _estimate(call, 0), True
            outcome.cost_pico = call.price(outcome.usage)[0]
        raise
    finally:
        _emit(call, outcome)


async def _open(call: Call, outcome: Outcome) -> Opened:
    """The first deployment that answers, trying the next on connect errors, timeouts
    before the first byte, 429 and 5xx. Nothing has reached the client yet."""
    last: ProxyError | None = None
    for deployment in balancer.order(call.model.deployments):
        if deployment.provider.kind != "openai":
            last = ProxyError(
                502,
                f"Provider kind {deployment.provider.kind!r} cannot serve this endpoint yet.",
                type="api_error",
            )
            continue
        outcome.attempts += 1
        outcome.deployment = deployment
        request = openai_kind.build_request(
            deployment, call.endpoint, call.body, stream=call.stream
        )
        try:
            response = await client().send(request, stream=True)
        except httpx.TimeoutException:
            balancer.record_failure(deployment.id)
            last = ProxyError(
                504, "The upstream provider timed out.", type="api_error", code="upstream_timeout"
            )
            continue
        except httpx.TransportError as exc:
            balancer.record_failure(deployment.id)
            last = ProxyError(
                502,
                f"Could not reach the upstream provider ({type(exc).__name__}).",
                type="api_error",
                code="upstream_unreachable",
            )
            continue
        if response.status_code in RETRYABLE_STATUSES:
            await response.aclose()
            balancer.record_failure(deployment.id, rate_limited=response.status_code == 429)
            last = _status_error(response.status_code)
            continue
        chunks = response.aiter_raw()
        try:
            first = await anext(chunks, b"")
        except httpx.TimeoutException:
            await response.aclose()
            balancer.record_failure(deployment.id)
            last = ProxyError(
                504, "The upstream provider timed out.", type="api_error", code="upstream_timeout"
            )
            continue
        except httpx.TransportError:
            await response.aclose()
            balancer.record_failure(deployment.id)
            last = ProxyError(
                502,
                "The upstream provider closed the connection.",
                type="api_error",
                code="upstream_dropped",
            )
            continue
        balancer.record_success(deployment.id)
        return Opened(response, first, chunks)
    assert last is not None, "a model always has a deployment"
    outcome.error = last.message
    outcome.http_status = last.status
    raise last


def _status_error(status: int) -> ProxyError:
    if status == 429 or status == 503:
        return ProxyError(
            503,
            "Every upstream provider for this model is busy or unavailable; retry shortly.",
            type="api_error",
            code="upstream_unavailable",
        )
    return ProxyError(
        502,
        f"The upstream provider failed (HTTP {status}).",
        type="api_error",
        code="upstream_error",
    )


JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]


async def _pass_error(opened: Opened, out: ClientOut, outcome: Outcome) -> None:
    """A 4xx the client caused: their error, in OpenAI's envelope, with its status."""
    response = opened.response
    body = await opened.read()
    try:
        parsed = orjson.loads(body)
        ok = isinstance(parsed, dict) and isinstance(parsed.get("error"), dict)
    except orjson.JSONDecodeError:
        ok = False
    if not ok:
        body = ProxyError(
            response.status_code,
            body.decode(errors="replace")[:500] or "The upstream refused the request.",
        ).body()
    outcome.status, outcome.http_status = UsageStatus.CLIENT_ERROR, response.status_code
    outcome.error = body.decode(errors="replace")[:300]
    await out.open(response.status_code, JSON_HEADERS)
    await out.write(body, more=False)


async def _relay_json(call: Call, opened: Opened, out: ClientOut, outcome: Outcome) -> None:
    body = await opened.read()
    try:
        answer = orjson.loads(body)
        if not isinstance(answer, dict):
            raise ValueError
    except (orjson.JSONDecodeError, ValueError):
        outcome.error = "The upstream answered with invalid JSON."
        raise ProxyError(
            502,
            "The upstream provider answered with invalid JSON.",
            type="api_error",
            code="upstream_invalid_response",
        ) from None
    if "model" in answer:
        answer["model"] = call.model.name
    usage = openai_kind.usage_of(answer.get("usage"))
    if usage is not None:
        outcome.usage = usage
        outcome.cost_pico, answer["usage"]["cost"] = call.price(usage)
    outcome.status, outcome.http_status = UsageStatus.OK, 200
    outcome.ttft_ms = (time.perf_counter() - call.started) * 1000
    await out.open(200, JSON_HEADERS)
    await out.write(orjson.dumps(answer), more=False)


async def _relay_stream(call: Call, opened: Opened, out: ClientOut, outcome: Outcome) -> None:
    stream = openai_kind.StreamRelay(
        model=call.model.name, include_usage=call.include_usage, price=call.price
    )
    await out.open(200, SSE_HEADERS)
    try:
        async for chunk in opened.body():
            data = stream.feed(chunk)
            if data:
                if outcome.ttft_ms is None:
                    outcome.ttft_ms = (time.perf_counter() - call.started) * 1000
                await out.write(data, more=True)
        if not stream.done:
            raise openai_kind.UpstreamStreamError("The upstream stream ended before [DONE].")
        outcome.status, outcome.http_status = UsageStatus.OK, 200
        await out.write(b"", more=False)
    except (httpx.HTTPError, openai_kind.UpstreamStreamError) as exc:
        message = f"The upstream provider failed mid-stream: {exc or type(exc).__name__}"
        outcome.error = message[:300]
        await out.write(frame_error(message), more=False)
    finally:
        outcome.usage, outcome.cost_pico = stream.usage, stream.cost_pico
        if stream.usage is None:
            outcome.usage, outcome.estimated = _estimate(call, stream.generated_chars), True
            outcome.cost_pico = call.price(outcome.usage)[0]
        await opened.response.aclose()


def frame_error(message: str) -> bytes:
    error = ProxyError(502, message, type="api_error", code="upstream_stream_error")
    return b"data: " + error.body() + b"\n\n"


def _estimate(call: Call, generated_chars: int) -> openai_kind.Usage:
    """Four characters a token: what a cut-short stream consumed, when the upstream
    never said. Marked estimated on the record."""
    prompt = call.body.get("messages") or call.body.get("prompt") or call.body.get("input") or ""
    return openai_kind.Usage(
        input_tokens=max(1, len(orjson.dumps(prompt)) // 4),
        output_tokens=(generated_chars + 3) // 4,
    )


def _emit(call: Call, outcome: Outcome) -> None:
    usage = outcome.usage or openai_kind.Usage()
    deployment = outcome.deployment
    limits.count_tokens(call.key, usage.input_tokens + usage.output_tokens)
    sink().emit(
        UsageEvent(
            request_id=call.request_id,
            organization_id=call.key.organization_id,
            api_key_id=call.key.key_id,
            endpoint=call.endpoint,
            model=call.model.name,
            status=outcome.status,
            http_status=outcome.http_status,
            provider=deployment.provider.name if deployment else "",
            upstream_model=deployment.upstream_model if deployment else "",
            deployment_id=deployment.id if deployment else None,
            streamed=call.stream,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            tokens_estimated=outcome.estimated,
            cost_pico=outcome.cost_pico,
            latency_ms=(time.perf_counter() - call.started) * 1000,
            ttft_ms=outcome.ttft_ms,
            attempts=max(outcome.attempts, 1),
            error=outcome.error[:300],
        )
    )
