"""One call through the gateway: pick deployments, fall back before the first byte,
relay the answer, and emit exactly one usage event whatever happens.

Per deployment the call is either *native* (the client speaks the provider's own shape:
bytes pass through, only `model` is rewritten and usage read) or *translated* (through
proxy.canonical: the provider module builds the request and parses the answer into
events, the client's shape module renders them)."""

import asyncio
import time

import httpx

from billing.models import UsageStatus
from billing.usage import UsageEvent
from proxy import balancer, limits, relay_modes
from proxy.call import Call, ClientOut, Opened, Outcome
from proxy.canonical import Usage
from proxy.errors import ProxyError
from proxy.providers import openai_responses
from proxy.table import DeploymentEntry
from proxy.upstream import client
from proxy.usage_sink import sink

RETRYABLE_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))
# Which provider kinds serve an endpoint natively (bytes through) or by translation.
NATIVE = {
    "chat": "openai", "completions": "openai", "embeddings": "openai", "messages": "anthropic",
}  # fmt: skip
TRANSLATABLE = {"chat", "messages", "responses"}


async def relay(call: Call, out: ClientOut) -> None:
    outcome = Outcome()
    try:
        opened = await _open(call, outcome)
        await relay_modes.run(call, opened, out, outcome)
    except asyncio.CancelledError:
        outcome.status, outcome.http_status = UsageStatus.CLIENT_ABORT, 499
        outcome.error = outcome.error or "The client disconnected."
        if outcome.usage is None and outcome.attempts:
            outcome.charge(call, relay_modes.estimate(call, 0), estimated=True)
        raise
    finally:
        _emit(call, outcome)


def _request_for(call: Call, deployment: DeploymentEntry) -> tuple[httpx.Request, bool] | None:
    """The upstream request and whether it is native; None if this kind cannot serve it."""
    kind = deployment.provider.kind
    if (
        call.endpoint == "responses"
        and kind == "openai"
        and openai_responses.has_responses(deployment)
    ):
        return openai_responses.build_native(deployment, call.body), True
    if NATIVE.get(call.endpoint) == kind:
        return relay_modes.build_native(deployment, call), True
    if call.endpoint not in TRANSLATABLE:
        return None
    if call.canonical is None:
        call.canonical = relay_modes.shape(call.endpoint).parse(call.body)
    return relay_modes.provider(kind).build(deployment, call.canonical), False


async def _open(call: Call, outcome: Outcome) -> Opened:
    """The first deployment that answers, trying the next on connect errors, timeouts
    before the first byte, 429 and 5xx. Nothing has reached the client yet."""
    last: ProxyError | None = None
    for deployment in balancer.order(call.model.deployments):
        built = _request_for(call, deployment)
        if built is None:
            last = ProxyError(
                502,
                f"The model's {deployment.provider.kind} deployment cannot serve /v1/{call.endpoint}.",
                type="api_error",
                code="unsupported_endpoint",
            )
            continue
        request, native = built
        outcome.attempts += 1
        outcome.deployment = deployment
        waited = time.perf_counter()
        try:
            opened, last = await _attempt(request, native, deployment)
            if opened is not None and _lacks_responses(call, opened):
                await opened.response.aclose()
                openai_responses.lacks_responses(deployment)
                request, native = _request_for(call, deployment)  # now over chat completions
                opened, last = await _attempt(request, native, deployment)
        finally:
            outcome.upstream_s += time.perf_counter() - waited
        if opened is not None:
            return opened
    assert last is not None, "a model always has a deployment"
    outcome.error, outcome.http_status = last.message, last.status
    raise last


def _lacks_responses(call: Call, opened: Opened) -> bool:
    """An OpenAI-kind upstream without the Responses API answers its path 404 or 405."""
    return (
        call.endpoint == "responses" and opened.native and opened.response.status_code in (404, 405)
    )


async def _attempt(
    request: httpx.Request, native: bool, deployment: DeploymentEntry
) -> tuple[Opened | None, ProxyError | None]:
    """One deployment: its response with the first body chunk, or why to try the next."""
    try:
        response = await client().send(request, stream=True)
    except httpx.TimeoutException:
        balancer.record_failure(deployment.id)
        return None, _timeout()
    except httpx.TransportError as exc:
        balancer.record_failure(deployment.id)
        return None, ProxyError(
            502,
            f"Could not reach the upstream provider ({type(exc).__name__}).",
            type="api_error",
            code="upstream_unreachable",
        )
    if response.status_code in RETRYABLE_STATUSES:
        await response.aclose()
        balancer.record_failure(deployment.id, rate_limited=response.status_code == 429)
        return None, _status_error(response.status_code)
    chunks = response.aiter_raw()
    try:
        first = await anext(chunks, b"")
    except httpx.TimeoutException:
        await response.aclose()
        balancer.record_failure(deployment.id)
        return None, _timeout()
    except httpx.TransportError:
        await response.aclose()
        balancer.record_failure(deployment.id)
        return None, ProxyError(
            502,
            "The upstream provider closed the connection.",
            type="api_error",
            code="upstream_dropped",
        )
    balancer.record_success(deployment.id)
    return Opened(response, first, chunks, native), None


def _timeout() -> ProxyError:
    return ProxyError(
        504, "The upstream provider timed out.", type="api_error", code="upstream_timeout"
    )


def _status_error(status: int) -> ProxyError:
    if status in (429, 503, 529):
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


def _emit(call: Call, outcome: Outcome) -> None:
    usage = outcome.usage or Usage()
    deployment = outcome.deployment
    limits.count_tokens(call.key, usage.input + usage.output)
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
            input_tokens=usage.input,
            output_tokens=usage.output,
            cached_tokens=usage.cached,
            tokens_estimated=outcome.estimated,
            cost_pico=outcome.cost_pico,
            latency_ms=(time.perf_counter() - call.started) * 1000,
            ttft_ms=outcome.ttft_ms,
            attempts=max(outcome.attempts, 1),
            error=outcome.error[:300],
        )
    )
