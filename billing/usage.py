"""Usage events in, usage records and credit debits out."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime

import orjson
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import APIKey
from billing import spend_counters
from billing.models import LedgerKind
from billing.services import credits_apply
from billing.usage_rows import insert_new


@dataclass(slots=True)
class UsageEvent:
    """What the proxy knows of one request when it ends; becomes one UsageRecord."""

    request_id: str
    organization_id: int
    api_key_id: int | None
    endpoint: str
    model: str
    status: str
    http_status: int = 200
    provider: str = ""
    upstream_model: str = ""
    deployment_id: int | None = None
    streamed: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    tokens_estimated: bool = False
    cost_pico: int = 0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    attempts: int = 1
    error: str = ""
    code: str = ""
    flagged: bool = False
    created_at: datetime = field(default_factory=timezone.now)


_FIELDS = frozenset(f.name for f in fields(UsageEvent))


def event_dumps(event: UsageEvent) -> bytes:
    """One event as a line of JSON, for the Redis stream and the embedded journal."""
    return orjson.dumps(event)


def event_loads(data: bytes | str) -> UsageEvent:
    """The event `event_dumps` wrote. Fields this version does not know are ignored and
    missing ones take their defaults, so events survive a deploy in either direction.
    Raises ValueError (orjson's JSONDecodeError is one) or TypeError on anything else."""
    raw = orjson.loads(data)
    if not isinstance(raw, dict):
        raise ValueError("a usage event is a JSON object")
    known = {k: v for k, v in raw.items() if k in _FIELDS}
    created = known.get("created_at")
    if isinstance(created, str):
        known["created_at"] = datetime.fromisoformat(created)
    return UsageEvent(**known)


def cost_pico(
    *,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int,
    input_price: int,
    output_price: int,
    cached_input_price: int | None,
    cache_write_tokens: int = 0,
    cache_write_price: int | None = None,
) -> int:
    """Exact cost in pico-USD. Prices are micro-USD per million tokens, so one token at
    price p costs p pico-USD. `input_tokens` includes the cache reads (`cached_tokens`)
    and the cache writes, each priced at its own price (the input price when unset)."""
    cached = min(cached_tokens, input_tokens)
    written = min(cache_write_tokens, input_tokens - cached)
    cached_price = input_price if cached_input_price is None else cached_input_price
    write_price = input_price if cache_write_price is None else cache_write_price
    return (
        (input_tokens - cached - written) * input_price
        + cached * cached_price
        + written * write_price
        + output_tokens * output_price
    )


def usage_record_batch(events: Sequence[UsageEvent]) -> int:
    """Writes the records not yet written and debits each organization by the sum of
    their costs, in one transaction. Idempotent by request id: a batch written twice
    (a retry after a lost reply) neither duplicates a record nor debits twice."""
    if not events:
        return 0
    unique = list({e.request_id: e for e in reversed(events)}.values())
    with transaction.atomic():
        written = insert_new(unique)
        debits: dict[int, int] = defaultdict(int)
        spent: dict[int, int] = defaultdict(int)
        for event in unique:
            if event.request_id in written:
                debits[event.organization_id] += event.cost_pico
                if event.api_key_id is not None:
                    spent[event.api_key_id] += event.cost_pico
        spend_counters.add(e for e in unique if e.request_id in written)
        for key_id, total in sorted(spent.items()):
            if total:
                APIKey.objects.filter(pk=key_id).update(spent_pico=F("spent_pico") + total)
        for organization_id, total in sorted(debits.items()):
            if total:
                credits_apply(
                    organization_id=organization_id,
                    amount_pico=-total,
                    kind=LedgerKind.USAGE,
                    reason="Usage",
                )
    return len(written)
