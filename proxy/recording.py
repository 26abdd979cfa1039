"""The one usage event of each /v1 request that passed authentication: a relayed call's,
or a refusal's (400/402/403/404/429 before any upstream), with its status and code."""

import time

from billing.byok import fee_pico
from billing.models import UsageStatus
from billing.usage import UsageEvent
from proxy import limits, metrics, spend
from proxy.auth import KeyInfo
from proxy.body_log import BodyLog
from proxy.call import Call, Outcome
from proxy.translate.canonical import Usage
from proxy.translate.errors import ProxyError
from proxy.usage_sink import record


async def record_call(call: Call, outcome: Outcome) -> None:
    """Records the call once; durable when this returns (proxy.usage_sink.record)."""
    if outcome.recorded:
        return
    outcome.recorded = True
    usage = outcome.usage or Usage()
    deployment = outcome.deployment
    limits.settle(call.ticket, usage.input + usage.output)
    event = UsageEvent(
        request_id=call.request_id,
        organization_id=call.key.organization_id,
        api_key_id=call.key.key_id,
        key_prefix=call.key.prefix,
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
        cache_write_tokens=usage.cache_write,
        tokens_estimated=outcome.estimated,
        cost_pico=outcome.cost_pico,
        byok=call.model.byok,  # charged the fee (billing.byok), not the cost
        fee_pico=fee_pico(outcome.cost_pico) if call.model.byok else 0,
        latency_ms=(time.perf_counter() - call.started) * 1000,
        ttft_ms=outcome.ttft_ms,
        attempts=max(outcome.attempts, 1),
        error=outcome.error[:300],
        code=outcome.code,
        prepaid=call.key.plan.prepaid,  # a flat plan's usage is invoiced, not debited
        **(call.bodies.fields() if call.bodies is not None else {}),
    )
    metrics.observe_request(
        event.model,
        event.status,
        event.latency_ms / 1000,
        None if event.ttft_ms is None else event.ttft_ms / 1000,
        attempts=outcome.attempts,
        upstream_failed=event.status == UsageStatus.UPSTREAM_ERROR,
    )
    recorded = await record(event, call.hold)
    spend.settle_soon(call.hold, recorded.cost_pico)  # unless record() settled it


async def record_refusal(
    *,
    request_id: str,
    endpoint: str,
    key: KeyInfo,
    model: str,
    err: ProxyError,
    started: float,
    streamed: bool = False,
    bodies: BodyLog | None = None,
) -> None:
    """A request the gateway refused by itself after authentication; `bodies` holds the
    request and the error answer when the organization logs bodies."""
    event = UsageEvent(
        request_id=request_id,
        organization_id=key.organization_id,
        api_key_id=key.key_id,
        key_prefix=key.prefix,
        endpoint=endpoint,
        model=model,
        status=UsageStatus.REFUSED,
        http_status=err.status,
        streamed=streamed,
        latency_ms=(time.perf_counter() - started) * 1000,
        attempts=0,
        error=err.message[:300],
        code=err.code or "",
        prepaid=key.plan.prepaid,
        **(bodies.fields() if bodies is not None else {}),
    )
    metrics.observe_request(
        model, UsageStatus.REFUSED, event.latency_ms / 1000, known=err.code != "model_not_found"
    )
    await record(event)
