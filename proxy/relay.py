"""One call through the gateway: plan per deployment, fall back before the first byte,
relay the answer, and record exactly one usage event whatever happens: durable before
the answer's last byte, so that a client never holds an answer the platform has no record of.

The plan is decided once per deployment, by the provider kind's adapter: *native* when
the kind serves the endpoint in the client's own shape, *translated* when the client's
shape parses into the canonical model. Only this module writes the call's Outcome."""

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson

from billing.models import UsageStatus
from proxy import balancer, upstream_errors
from proxy.call import Call, ClientOut, Opened, Outcome
from proxy.recording import record_call
from proxy.relays import Relay, relay_for
from proxy.table import DeploymentEntry
from proxy.translate.canonical import UpstreamFailed, Usage
from proxy.translate.errors import ProxyError
from proxy.translate.providers import KINDS
from proxy.translate.shapes import SHAPES, TRANSLATABLE
from proxy.translate.wire import UpstreamRequest, dumps
from proxy.upstream import client, timeout_for

RETRYABLE_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))
JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]
# (provider id, endpoint) whose server answered 404/405 to an optional native path: by
# id, since organizations' own providers may share a platform provider's name.
_lacking: set[tuple[int, str]] = set()


@dataclass(frozen=True, slots=True)
class Plan:
    deployment: DeploymentEntry
    native: bool


def forget() -> None:
    """Forget which servers lack an optional native endpoint (tests)."""
    _lacking.clear()


def can_serve(deployment: DeploymentEntry, endpoint: str) -> bool:
    return endpoint in deployment.provider.adapter.native or endpoint in TRANSLATABLE


def plan(deployment: DeploymentEntry, endpoint: str) -> Plan | None:
    adapter = deployment.provider.adapter
    if endpoint in adapter.native and (deployment.provider.id, endpoint) not in _lacking:
        return Plan(deployment, True)
    if endpoint in TRANSLATABLE:
        return Plan(deployment, False)
    return None


def plans(call: Call) -> Iterator[Plan]:
    for deployment in balancer.order(call.model.deployments):
        chosen = plan(deployment, call.endpoint)
        if chosen is not None:
            yield chosen


async def relay(call: Call, out: ClientOut) -> None:
    outcome = Outcome()
    try:
        opened = await _open(call, outcome)
        await _run(call, opened, out, outcome)
    except asyncio.CancelledError:
        outcome.status, outcome.http_status = UsageStatus.CLIENT_ABORT, 499
        outcome.error = outcome.error or "The client disconnected."
        if outcome.usage is None and outcome.attempts:
            outcome.charge(call, estimate(call, 0), estimated=True)
        raise
    except ProxyError as err:
        outcome.error, outcome.http_status = outcome.error or err.message, err.status
        outcome.code = outcome.code or err.code or ""
        if err.status < 500:
            outcome.status = UsageStatus.CLIENT_ERROR
        raise
    finally:
        await record_call(call, outcome)  # once: a no-op when the answer recorded it


def _request(call: Call, chosen: Plan) -> httpx.Request:
    deployment = chosen.deployment
    adapter = deployment.provider.adapter
    if chosen.native:
        built: UpstreamRequest = adapter.native_request(
            deployment.upstream,
            call.endpoint,
            call.body,
            stream=call.stream,
            client_headers=call.client_headers,
        )
    else:
        built = adapter.build(deployment.upstream, call.canonical_request())
    return client().build_request(
        "POST",
        built.url,
        content=built.body,
        headers=built.headers,
        timeout=timeout_for(deployment.provider.timeout_s),
    )


async def _open(call: Call, outcome: Outcome) -> Opened:
    """The first deployment that answers, trying the next on connect errors, timeouts
    before the first byte, 429 and 5xx. Nothing has reached the client yet."""
    last: ProxyError | None = None
    for chosen in plans(call):
        deployment = chosen.deployment
        request = _request(call, chosen)  # a translation's 400 leaves before any attempt
        outcome.attempts += 1
        outcome.deployment = deployment
        waited = time.perf_counter()
        try:
            opened, last = await _attempt(request, chosen, deployment)
            if opened is not None and _lacks_native(call, chosen, opened):
                await opened.response.aclose()
                _lacking.add((deployment.provider.id, call.endpoint))
                chosen = Plan(deployment, False)
                opened, last = await _attempt(_request(call, chosen), chosen, deployment)
        finally:
            outcome.upstream_s += time.perf_counter() - waited
        if opened is not None:
            outcome.native = opened.native
            return opened
    if last is None:
        kinds = " or ".join(a.label for a in KINDS.values() if call.endpoint in a.native)
        raise ProxyError(
            400,
            f"The model '{call.model.name}' has no {kinds} deployment, which "
            f"/v1/{_path(call.endpoint)} needs; use a model that has one.",
            param="model",
            code="unsupported_endpoint",
        )
    raise last


def _path(endpoint: str) -> str:
    return {"chat": "chat/completions", "count_tokens": "messages/count_tokens"}.get(
        endpoint, endpoint
    )


def _lacks_native(call: Call, chosen: Plan, opened: Opened) -> bool:
    """A server of the kind without an optional native endpoint answers 404 or 405."""
    return (
        chosen.native
        and call.endpoint in chosen.deployment.provider.adapter.optional_native
        and call.endpoint in TRANSLATABLE
        and opened.response.status_code in (404, 405)
    )


async def _attempt(
    request: httpx.Request, chosen: Plan, deployment: DeploymentEntry
) -> tuple[Opened | None, ProxyError | None]:
    """One deployment: its response with the first body chunk, or why to try the next."""
    sent = time.perf_counter()
    try:
        response = await client().send(request, stream=True)
    except httpx.TimeoutException:
        balancer.record_failure(deployment.id)
        return None, upstream_errors.timeout()
    except httpx.TransportError as exc:
        balancer.record_failure(deployment.id)
        return None, upstream_errors.unreachable(exc)
    if response.status_code in RETRYABLE_STATUSES:
        await response.aclose()
        balancer.record_failure(deployment.id, rate_limited=response.status_code == 429)
        return None, upstream_errors.status_error(response.status_code)
    chunks = response.aiter_raw()
    try:
        first = await anext(chunks, b"")
    except httpx.TimeoutException:
        await response.aclose()
        balancer.record_failure(deployment.id)
        return None, upstream_errors.timeout()
    except httpx.TransportError:
        await response.aclose()
        balancer.record_failure(deployment.id)
        return None, upstream_errors.dropped()
    balancer.record_success(deployment.id, time.perf_counter() - sent)
    return Opened(response, first, chunks, chosen.native), None


# --- Relaying an opened answer ----------------------------------------------------------


async def _run(call: Call, opened: Opened, out: ClientOut, outcome: Outcome) -> None:
    relay = relay_for(call, outcome.deployment, native=opened.native)
    if opened.response.status_code >= 400:
        await _pass_error(call, opened, out, outcome)
    elif call.stream:
        await _stream(call, opened, out, outcome, relay)
    else:
        await _json(call, opened, out, outcome, relay)


async def _read(opened: Opened, outcome: Outcome) -> bytes:
    try:
        return await opened.read(outcome)
    except httpx.TimeoutException:
        raise upstream_errors.timeout() from None
    except httpx.TransportError:
        raise upstream_errors.dropped() from None


async def _json(call: Call, opened: Opened, out: ClientOut, outcome: Outcome, relay: Relay):
    body = await _read(opened, outcome)
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        raise ProxyError(
            502,
            "The upstream provider answered with invalid JSON.",
            type="api_error",
            code="upstream_invalid_response",
        )
    try:
        rendered, usage = relay.answer(answer)
    except UpstreamFailed as exc:
        raise upstream_errors.upstream_failed(exc, during="answering") from None
    outcome.charge(call, usage)
    outcome.status, outcome.http_status = UsageStatus.OK, 200
    outcome.first_byte(call)
    payload = dumps(rendered)
    outcome.answered(call, payload)
    await record_call(call, outcome)
    await out.open(200, [*JSON_HEADERS, *outcome.headers(call)])
    await out.write(payload, more=False)


async def _stream(call: Call, opened: Opened, out: ClientOut, outcome: Outcome, relay: Relay):
    await out.open(200, [*SSE_HEADERS, *outcome.headers(call)])
    try:
        async for chunk in _first_event_apart(opened.body()):
            data = relay.feed(chunk)
            if data:
                outcome.first_byte(call)
                outcome.answered(call, data)
                await out.write(data, more=True)
        if not relay.done:
            raise UpstreamFailed("the upstream stream ended before its end marker")
        last = relay.end()
        outcome.status, outcome.http_status = UsageStatus.OK, 200
    except (httpx.HTTPError, UpstreamFailed) as exc:
        if isinstance(exc, UpstreamFailed) and exc.partial:
            outcome.first_byte(call)
            partial = b"".join(exc.partial)
            outcome.answered(call, partial)
            await out.write(partial, more=True)  # what came before the break
        failed = exc if isinstance(exc, UpstreamFailed) else UpstreamFailed(str(exc))
        err = upstream_errors.upstream_failed(failed, during="mid-stream")
        outcome.error = err.message
        last = relay.error(err)
    finally:
        if relay.usage is not None:
            outcome.charge(call, relay.usage)
        else:
            outcome.charge(call, estimate(call, relay.generated_chars), estimated=True)
        await opened.response.aclose()
    outcome.answered(call, last)
    await record_call(call, outcome)
    await out.write(last, more=False)


async def _first_event_apart(chunks):
    """The upstream's reads, the first one cut after its first event: when a read holds
    many events, the first goes to the client before the rest are rewritten."""
    first = True
    async for chunk in chunks:
        if first:
            first = False
            cut = chunk.find(b"\n\n") + 2
            if 1 < cut < len(chunk):
                yield chunk[:cut]
                chunk = chunk[cut:]
        yield chunk


async def _pass_error(call: Call, opened: Opened, out: ClientOut, outcome: Outcome) -> None:
    """A 4xx the client caused: passed through when it is already in the client's
    envelope, else its message re-framed in that envelope, with the upstream's status."""
    status = opened.response.status_code
    body = await _read(opened, outcome)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    error = parsed.get("error") if isinstance(parsed, dict) else None
    anthropic_client = SHAPES[call.endpoint] is SHAPES["messages"]
    same_envelope = isinstance(error, dict) and (
        anthropic_client == (parsed.get("type") == "error")
    )
    if not (opened.native and same_envelope):
        message = error.get("message") if isinstance(error, dict) else None
        err = ProxyError(
            status,
            str(
                message
                or body.decode(errors="replace")[:500]
                or "The upstream refused the request."
            ),
        )
        body = SHAPES[call.endpoint].error_body(err)
    outcome.status, outcome.http_status = UsageStatus.CLIENT_ERROR, status
    outcome.error = body.decode(errors="replace")[:300]
    outcome.answered(call, body)
    await record_call(call, outcome)
    await out.open(status, [*JSON_HEADERS, *outcome.headers(call)])
    await out.write(body, more=False)


def estimate(call: Call, generated_chars: int) -> Usage:
    """Four characters a token: what a cut-short call consumed, when the upstream never
    said. Marked estimated on the record."""
    body = call.body
    prompt = body.get("messages") or body.get("prompt") or body.get("input") or ""
    try:
        size = len(dumps(prompt))
    except ProxyError:
        size = 0
    return Usage(input=max(1, size // 4), output=(generated_chars + 3) // 4)
