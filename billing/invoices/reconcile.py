"""Reconciliation: rollups → one invoice per organization and period, its lines, its check.

`reconcile` is what the Celery beat runs every few minutes and what `manage.py reconcile`
runs in the foreground. It is idempotent and safe to run twice at once:

- the invoice of (organization, period) is unique in the database; missing ones are
  inserted with ON CONFLICT DO NOTHING and read back, so two runs share one row;
- only open invoices (draft, in_review) are rewritten, under a row lock, from absolute
  figures; finalized, paid and void invoices are frozen;
- an invoice whose inputs did not change since its last rewrite (the fingerprint of its
  rollup sums, plan segments, carried usage, credit notes and ledger debits) is skipped,
  so a run that finds nothing new reads a few grouped sums and writes nothing.

Usage recorded for a frozen period after it was frozen (late usage) is what its rollups
now hold beyond what was billed: it goes on the organization's next open invoice as an
`adjustment` line (creating the invoice of the period being reconciled when none is open).
"""

import hashlib
import json
import zlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Organization
from billing.invoices import inputs as bulk
from billing.invoices.check import Figures, check_run
from billing.invoices.lines import Carried, Inputs, Line, Note, lines_build
from billing.models import (
    OPEN_STATUSES,
    CheckStatus,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
)
from billing.periods import period_bounds, period_of, previous_period
from billing.rollups import rollups_refresh

FROZEN = (InvoiceStatus.FINALIZED, InvoiceStatus.PAID, InvoiceStatus.VOID)
# Late usage is looked for this many periods back.
LATE_PERIODS = 12
WRITE_CHUNK = 500


def reconcile(
    *,
    period: str | None = None,
    organization: Organization | None = None,
    now: datetime | None = None,
) -> list[Invoice]:
    """Refreshes the rollups, then the invoices of `period` (the previous and the current
    period when None) of every organization with usage or a flat plan in it (or of one
    organization), and moves the drafts of a period closed for BILLING_CLOSE_GRACE_S to
    in_review. Returns the invoices created or rewritten. ValueError for a bad period."""
    now = now or timezone.now()
    periods = [period] if period else [previous_period(period_of(now)), period_of(now)]
    for p in periods:
        period_bounds(p)  # a bad name fails before any work
    rollups_refresh()
    scope = {organization.pk} if organization is not None else None
    touched: dict[int, Invoice] = {}
    for p in periods:
        for invoice in reconcile_period(period=p, organization_ids=scope, now=now):
            touched[invoice.pk] = invoice
    return sorted(touched.values(), key=lambda i: (i.period, i.organization_id))


def period_closed(*, period: str, now: datetime) -> bool:
    """The period ended at least BILLING_CLOSE_GRACE_S ago (Stripe's one-hour grace for
    usage still on its way)."""
    _, end = period_bounds(period)
    return now >= end + timedelta(seconds=settings.BILLING_CLOSE_GRACE_S)


@dataclass
class _Plan:
    invoice: Invoice
    inputs: Inputs
    lines: list[Line]
    status: str
    fingerprint: str


def reconcile_period(
    *,
    period: str,
    organization_ids: set[int] | None = None,
    now: datetime,
    force: bool = False,
) -> list[Invoice]:
    """The invoices of one period (rollups already refreshed); `force` rewrites them even
    when their inputs look unchanged. Returns the invoices created or rewritten.

    One transaction, and on PostgreSQL an advisory lock per period: two runs at once take
    turns, and the second reads its inputs after the first committed, so a run that read
    stale rollups can never write after one that read fresh ones (row locks alone would
    let it). SQLite's IMMEDIATE transactions serialize the runs the same way."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                key = zlib.crc32(f"billing.reconcile:{period}".encode())
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
        return _reconcile_period(
            period=period, organization_ids=organization_ids, now=now, force=force
        )


def _reconcile_period(
    *, period: str, organization_ids: set[int] | None, now: datetime, force: bool
) -> list[Invoice]:
    start, end = period_bounds(period)
    if now < start:
        return []
    closed = period_closed(period=period, now=now)
    usage = bulk.rollup_usage(start=start, end=end, organization_ids=organization_ids)
    segments, default_segments = bulk.segments_by_org(
        start=start, end=end, organization_ids=organization_ids
    )
    candidates = set(usage) | {org for org, s in segments.items() if bulk.has_flat(s)}
    if bulk.has_flat(default_segments):
        orgs = Organization.objects.filter(created_at__lt=end)
        if organization_ids is not None:
            orgs = orgs.filter(pk__in=organization_ids)
        # An organization that never changed plan is on the default plan all period.
        candidates |= set(orgs.values_list("pk", flat=True)) - set(segments)
    existing = _invoices(period=period, organization_ids=organization_ids)
    candidates |= set(existing)
    carried = _late_usage(period=period, organization_ids=organization_ids)
    candidates |= set(carried)
    if organization_ids is not None:
        candidates &= organization_ids

    created = _create_missing(period=period, start=start, end=end, orgs=candidates - set(existing))
    if created:
        existing.update(_invoices(period=period, organization_ids=created))
    invoices = {org: inv for org, inv in existing.items() if org in candidates}
    open_invoices = [i for i in invoices.values() if i.status in OPEN_STATUSES]
    notes = _notes(invoice_ids=[i.pk for i in open_invoices])
    ledger = bulk.ledger_debits(period=period, organization_ids=organization_ids)

    plans: list[_Plan] = []
    for invoice in open_invoices:
        org = invoice.organization_id
        inputs = Inputs(
            period=period,
            start=start,
            end=end,
            segments=segments.get(org) or default_segments,
            usage=usage.get(org, {}),
            carried=carried.get(org, []),
            notes=notes.get(invoice.pk, []),
        )
        status = InvoiceStatus.IN_REVIEW if closed else invoice.status
        fingerprint = _fingerprint(inputs, status, ledger.get(org, (0, 0)))
        unchanged = (
            invoice.check_details.get("fingerprint") == fingerprint
            and invoice.status == status
            and invoice.check_status != CheckStatus.PENDING
        )
        if force or not unchanged or invoice.organization_id in created:
            plans.append(_Plan(invoice, inputs, lines_build(inputs), status, fingerprint))
    if not plans:
        return []
    raw = bulk.raw_totals(
        start=start, end=end, organization_ids={p.invoice.organization_id for p in plans}
    )
    written = []
    for i in range(0, len(plans), WRITE_CHUNK):
        written += _write(plans[i : i + WRITE_CHUNK], raw=raw, ledger=ledger, now=now)
    return written


def _invoices(*, period: str, organization_ids) -> dict[int, Invoice]:
    rows = Invoice.objects.filter(period=period)
    out = {}
    for part in bulk.scoped(rows, organization_ids):
        out.update({i.organization_id: i for i in part})
    return out


def _create_missing(*, period: str, start, end, orgs: set[int]) -> set[int]:
    """Inserts the missing invoices; a twin run's insert of the same (organization,
    period) is ignored by the unique constraint, never duplicated."""
    if not orgs:
        return set()
    Invoice.objects.bulk_create(
        [
            Invoice(organization_id=org, period=period, period_start=start, period_end=end)
            for org in sorted(orgs)
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    return orgs


def _notes(*, invoice_ids: list[int]) -> dict[int, list[Note]]:
    out: dict[int, list[Note]] = defaultdict(list)
    for ids in bulk.chunks(invoice_ids):
        rows = CreditNote.objects.filter(applied_to_id__in=ids).select_related("invoice")
        for n in rows.order_by("pk"):
            label = n.invoice.number or f"the {n.invoice.period} invoice"
            out[n.applied_to_id].append(Note(n.pk, label, n.amount_pico, n.reason))
    return out


def billed_of(invoice: Invoice) -> tuple[int, int]:
    """(charged, debited) of its own period's usage (and BYOK fees) that a frozen invoice
    billed."""
    billed = invoice.check_details.get("billed") or {}
    if billed:
        return int(billed["cost"]), int(billed["debited"])
    lines = invoice.lines.filter(kind__in=(LineKind.USAGE, LineKind.BYOK_FEE))
    return sum(li.amount_pico for li in lines), int(
        invoice.check_details.get("rollups_debited_pico", 0)
    )


def _late_usage(*, period: str, organization_ids) -> dict[int, list[Carried]]:
    """The late usage that the invoice of `period` carries, per organization: for each
    frozen invoice of an earlier period, what its rollups now hold beyond what it billed
    and what other invoices already carried, when this period's invoice is the
    organization's next open one after it (or none is open)."""
    floor = period
    for _ in range(LATE_PERIODS):
        floor = previous_period(floor)
    frozen = Invoice.objects.filter(status__in=FROZEN, period__lt=period, period__gte=floor)
    by_org: dict[int, list[Invoice]] = defaultdict(list)
    for part in bulk.scoped(frozen, organization_ids):
        for invoice in part:
            by_org[invoice.organization_id].append(invoice)
    if not by_org:
        return {}
    later = Invoice.objects.filter(period__gt=floor).order_by("period")
    org_invoices: dict[int, list[Invoice]] = defaultdict(list)
    for part in bulk.scoped(later, set(by_org)):
        for invoice in part:
            org_invoices[invoice.organization_id].append(invoice)
    out: dict[int, list[Carried]] = defaultdict(list)
    for q_period in sorted({i.period for f in by_org.values() for i in f}):
        q_start, q_end = period_bounds(q_period)
        orgs = {org for org, f in by_org.items() if any(i.period == q_period for i in f)}
        now_totals = bulk.rollup_totals(start=q_start, end=q_end, organization_ids=orgs)
        for org in sorted(orgs):
            q = next(i for i in by_org[org] if i.period == q_period)
            carrier = next(
                (i for i in org_invoices[org] if i.period > q_period and i.status in OPEN_STATUSES),
                None,
            )
            if carrier is not None and carrier.period != period:
                continue
            cost, debited = now_totals.get(org, (0, 0))
            b_cost, b_debited = billed_of(q)
            for other in org_invoices[org]:
                if carrier is not None and other.pk == carrier.pk:
                    continue
                c = (other.check_details.get("carried") or {}).get(q_period)
                if c:
                    b_cost += int(c[0])
                    b_debited += int(c[1])
            if (cost, debited) != (b_cost, b_debited):
                if carrier is None and period <= q_period:
                    continue
                out[org].append(Carried(q_period, cost - b_cost, debited - b_debited))
    return out


def _fingerprint(inputs: Inputs, status: str, ledger: tuple[int, int]) -> str:
    data = {
        "status": status,
        "usage": sorted(
            (m, u.cost_pico, u.tokens, u.debited_pico, u.byok_cost_pico, u.fee_pico)
            for m, u in inputs.usage.items()
        ),
        "segments": [
            (
                s.terms.name,
                s.terms.kind,
                s.terms.monthly_fee_pico,
                s.terms.included_pico,
                s.start.isoformat(),
                s.end.isoformat(),
                s.prorated,
            )
            for s in inputs.segments
        ],
        "carried": [(c.period, c.cost_pico, c.debited_pico) for c in inputs.carried],
        "notes": [(n.note_id, n.amount_pico) for n in inputs.notes],
        "ledger": list(ledger),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


def _write(
    plans: list[_Plan],
    *,
    raw: dict[int, tuple[int, int, int, int]],
    ledger: dict[int, tuple[int, int]],
    now: datetime,
) -> list[Invoice]:
    """Rewrites the lines and figures of these open invoices, under a row lock taken in
    id order (two runs never deadlock, and the second rewrites with the same figures)."""
    with transaction.atomic():
        ids = [p.invoice.pk for p in plans]
        locked = {
            i.pk: i.status
            for i in Invoice.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        }
        plans = [p for p in plans if locked.get(p.invoice.pk) in OPEN_STATUSES]
        if not plans:
            return []
        InvoiceLine.objects.filter(invoice_id__in=[p.invoice.pk for p in plans]).delete()
        rows = []
        for p in plans:
            inv = p.invoice
            org = inv.organization_id
            for position, line in enumerate(p.lines):
                rows.append(
                    InvoiceLine(
                        invoice=inv,
                        position=position,
                        kind=line.kind,
                        description=line.description[:300],
                        model=line.model,
                        quantity=line.quantity,
                        amount_pico=line.amount_pico,
                        covers_period=line.covers_period,
                    )
                )
            total = sum(line.amount_pico for line in p.lines)
            raw_cost, raw_debited, raw_fee, raw_debited_fee = raw.get(org, (0, 0, 0, 0))
            ledger_total, ledger_fee = ledger.get(org, (0, 0))
            status, details = check_run(
                Figures(
                    lines_usage=sum(li.amount_pico for li in p.lines if li.kind == LineKind.USAGE),
                    rollups=p.inputs.usage_pico,
                    raw=raw_cost,
                    rollups_debited=p.inputs.debited_pico,
                    raw_debited=raw_debited,
                    ledger=ledger_total,
                    total=total,
                    lines_sum=total,
                    lines_fee=sum(li.amount_pico for li in p.lines if li.kind == LineKind.BYOK_FEE),
                    rollups_fee=p.inputs.fee_pico,
                    raw_fee=raw_fee,
                    rollups_debited_fee=p.inputs.debited_fee_pico,
                    raw_debited_fee=raw_debited_fee,
                    ledger_fee=ledger_fee,
                )
            )
            details["fingerprint"] = p.fingerprint
            details["carried"] = {
                c.period: [str(c.cost_pico), str(c.debited_pico)] for c in p.inputs.carried
            }
            inv.total_pico = total
            inv.paid_from_credit_pico = p.inputs.paid_from_credit_pico
            inv.plan = p.inputs.segments[-1].terms.name[:60]
            inv.status = p.status
            inv.check_status = status
            inv.check_details = details
            inv.checked_at = now
            inv.updated_at = timezone.now()
        InvoiceLine.objects.bulk_create(rows, batch_size=2000)
        _update_figures([p.invoice for p in plans])
    return [p.invoice for p in plans]


def _update_figures(invoices: list[Invoice]) -> None:
    """The rewritten figures of these invoices: one UPDATE … FROM unnest on PostgreSQL
    (the ORM's bulk_update builds a CASE per field and row, 3 s per 1,000 invoices)."""
    if connection.vendor != "postgresql":
        for inv in invoices:
            Invoice.objects.filter(pk=inv.pk).update(**{f: getattr(inv, f) for f in _FIGURES})
        return
    table = connection.ops.quote_name(Invoice._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} i SET total_pico = v.total, paid_from_credit_pico = v.paid, "
            "plan = v.plan, status = v.status, check_status = v.check_status, "
            "check_details = v.details::jsonb, checked_at = v.checked_at, "
            "updated_at = v.updated_at FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], "
            "%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[], "
            "%s::timestamptz[]) AS v(id, total, paid, plan, status, check_status, details, "
            "checked_at, updated_at) WHERE i.id = v.id",
            [
                [i.pk for i in invoices],
                [i.total_pico for i in invoices],
                [i.paid_from_credit_pico for i in invoices],
                [i.plan for i in invoices],
                [i.status for i in invoices],
                [i.check_status for i in invoices],
                [json.dumps(i.check_details) for i in invoices],
                [i.checked_at for i in invoices],
                [i.updated_at for i in invoices],
            ],
        )


_FIGURES = (
    "total_pico",
    "paid_from_credit_pico",
    "plan",
    "status",
    "check_status",
    "check_details",
    "checked_at",
    "updated_at",
)


def periods_close(*, now: datetime | None = None) -> list[Invoice]:
    """Moves the drafts of every period closed for the grace to in_review, after a last
    refresh of their lines (the beat's period close)."""
    now = now or timezone.now()
    rollups_refresh()
    periods = sorted(
        set(
            Invoice.objects.filter(status=InvoiceStatus.DRAFT)
            .values_list("period", flat=True)
            .distinct()
        )
    )
    touched = []
    for p in periods:
        if period_closed(period=p, now=now):
            touched += reconcile_period(period=p, now=now)
    return touched
