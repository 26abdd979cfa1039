"""Billing data for the page, API and browser tests: usage through the real writer
(billing.usage.usage_record_batch) and its rollups, invoices as rows."""

import itertools
from datetime import datetime

from accounts.models import APIKey, Organization
from billing.byok import fee_pico
from billing.models import Invoice, InvoiceLine, InvoiceStatus
from billing.periods import period_bounds, period_of
from billing.rollups import rollups_refresh
from billing.usage import UsageEvent, usage_record_batch

_ids = itertools.count(1)


def record_usage(
    org: Organization,
    *,
    at: datetime,
    model: str = "gpt-4o-mini",
    key: APIKey | None = None,
    count: int = 1,
    input_tokens: int = 100,
    output_tokens: int = 50,
    cost_pico: int = 1_000_000,
    prepaid: bool = True,
    refresh: bool = True,
    byok: bool = False,
) -> list[str]:
    """`count` requests of `org` at `at`, written by the usage writer; the rollups are
    refreshed after, as the rollup task would. Returns their request ids."""
    events = [
        UsageEvent(
            request_id=f"req-{org.slug}-{next(_ids)}",
            organization_id=org.pk,
            api_key_id=key.pk if key else None,
            endpoint="chat.completions",
            model=model,
            status="ok",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cost_pico=cost_pico,
            created_at=at,
            prepaid=prepaid,
            byok=byok,
            fee_pico=fee_pico(cost_pico) if byok else 0,
        )
        for _ in range(count)
    ]
    usage_record_batch(events)
    if refresh:
        rollups_refresh()
    return [e.request_id for e in events]


def make_invoice(
    org: Organization,
    period: str,
    *,
    status: str = InvoiceStatus.IN_REVIEW,
    lines: list[tuple] = (),
    number: str | None = None,
    paid_from_credit_pico: int = 0,
    plan: str = "payg",
) -> Invoice:
    """An invoice and its lines; each line is (kind, description, model, quantity,
    amount_pico[, covers_period])."""
    start, end = period_bounds(period)
    invoice = Invoice.objects.create(
        organization=org,
        period=period,
        period_start=start,
        period_end=end,
        plan=plan,
        status=status,
        number=number,
        total_pico=sum(line[4] for line in lines),
        paid_from_credit_pico=paid_from_credit_pico,
    )
    for position, line in enumerate(lines):
        kind, description, model, quantity, amount = line[:5]
        InvoiceLine.objects.create(
            invoice=invoice,
            position=position,
            kind=kind,
            description=description,
            model=model,
            quantity=quantity,
            amount_pico=amount,
            covers_period=line[5] if len(line) > 5 else "",
        )
    return invoice


__all__ = ["make_invoice", "period_of", "record_usage"]
