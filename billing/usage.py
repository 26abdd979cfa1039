"""Usage events in, usage records and credit debits out."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import partial

import orjson
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import APIKey
from billing import bodies, rollup_marks, spend_counters
from billing.models import LedgerKind
from billing.periods import period_of
from billing.services import ledger_write
from billing.usage_rows import insert_new
from billing.usage_signals import usage_written


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
    # Served by the organization's own provider key: charged fee_pico (billing.byok), not
    # cost_pico (the cost at the model's declared prices, still what budgets count).
    byok: bool = False
    fee_pico: int = 0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    attempts: int = 1
    error: str = ""
    code: str = ""
    flagged: bool = False
    created_at: datetime = field(default_factory=timezone.now)
    # False when the organization's plan bills usage on its invoice (a flat plan): the
    # record then debits no credit.
    prepaid: bool = True
    # Set by the writer: the usage debit that paid for the record.
    ledger_entry_id: int | None = None
    # The key's visible prefix, for the live feed (not a column: the record has the key).
    key_prefix: str = ""
    # The prompt and answer (billing.bodies), set only when the organization logs bodies:
    # None means nothing is stored. Not columns of the record: a UsageBody row.
    prompt: str | None = None
    answer: str = ""
    prompt_truncated: bool = False
    answer_truncated: bool = False


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
    and the cache writes, each priced at its own price: a cache read at the input price
    when unset, a cache write at 1.25 × the input price when unset (Anthropic's 5-minute
    cache write), in integers (the quarter of a pico-USD is floored once, never a float).
    Reasoning tokens are output tokens (the providers count them in their output)."""
    cached = min(cached_tokens, input_tokens)
    written = min(cache_write_tokens, input_tokens - cached)
    cached_price = input_price if cached_input_price is None else cached_input_price
    writes = (
        written * input_price * 5 // 4 if cache_write_price is None else written * cache_write_price
    )
    return (
        (input_tokens - cached - written) * input_price
        + cached * cached_price
        + writes
        + output_tokens * output_price
    )


def usage_record_batch(events: Sequence[UsageEvent]) -> int:
    """Writes the records not yet written, debits each organization's prepaid usage (one
    entry per organization and month, each record pointing at its entry) and marks their
    days for the rollup, in one transaction. Idempotent by request id: a batch written
    twice (a retry after a lost reply) neither duplicates a record nor debits twice.
    After the commit, `usage_written` is sent with the events written."""
    if not events:
        return 0
    unique = list({e.request_id: e for e in reversed(events)}.values())
    with transaction.atomic():
        written = insert_new(unique, before_insert=_debit)
        fresh = [e for e in unique if e.request_id in written]
        bodies.bodies_write(fresh)
        spent: dict[int, int] = defaultdict(int)
        for event in fresh:
            if event.api_key_id is not None:
                spent[event.api_key_id] += event.cost_pico
        spend_counters.add(fresh)
        for key_id, total in sorted(spent.items()):
            if total:
                APIKey.objects.filter(pk=key_id).update(spent_pico=F("spent_pico") + total)
        rollup_marks.mark(fresh)
        if fresh and usage_written.has_listeners():
            # The live feed, once the records are there to be read (never on a rollback).
            transaction.on_commit(
                partial(usage_written.send_robust, sender=UsageEvent, events=fresh), robust=True
            )
    return len(written)


def _debit(fresh: Sequence[UsageEvent]) -> None:
    """Before the records are inserted: per organization and month, one usage debit of
    what its prepaid non-BYOK records cost and one byok_fee debit of the fees of its
    prepaid BYOK records, and each record's link to the debit that paid it."""
    debits: dict[tuple[int, str, bool], list[UsageEvent]] = defaultdict(list)
    for event in fresh:
        event.ledger_entry_id = None
        if not event.byok:
            event.fee_pico = 0
        if event.prepaid and _charged(event):
            debits[(event.organization_id, period_of(event.created_at), event.byok)].append(event)
    for (organization_id, period, byok), covered in sorted(debits.items()):
        entry = ledger_write(
            organization_id=organization_id,
            amount_pico=-sum(_charged(e) for e in covered),
            kind=LedgerKind.BYOK_FEE if byok else LedgerKind.USAGE,
            reason="BYOK fee" if byok else "Usage",
            period=period,
        )
        for event in covered:
            event.ledger_entry_id = entry.pk


def _charged(event: UsageEvent) -> int:
    """What the organization pays for the record: the fee when BYOK, else the cost."""
    return event.fee_pico if event.byok else event.cost_pico
