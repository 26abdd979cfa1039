"""Reads of billing for the owner's pages, the management API and the staff review.

Usage figures come from the rollups (UsageRollup) and the spend counters, never from a
scan of raw usage rows; the one exception is the staff drill-down, which shows the raw
records behind an invoice line, a page at a time by keyset."""

from dataclasses import dataclass
from datetime import date, datetime

from django.core.paginator import Page, Paginator
from django.db.models import Prefetch, Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone

from accounts.models import APIKey, Organization
from billing import spend_counters
from billing.models import (
    BillingAudit,
    BillingProfile,
    CreditLedgerEntry,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    Plan,
    PlanChange,
    SpendCounter,
    UsageRecord,
    UsageRollup,
)
from billing.periods import period_bounds, period_of
from billing.plans import Terms, plan_in_force, scheduled_change

LEDGER_PAGE_SIZE = 25
USAGE_PAGE_SIZE = 50
REVIEW_PAGE_SIZE = 50
AUDIT_PAGE_SIZE = 50
GROUPS = ("day", "model", "key")


@dataclass(frozen=True)
class Summary:
    """What an organization's billing stands at now."""

    balance_pico: int
    plan: Terms
    scheduled: PlanChange | None
    period: str
    period_start: datetime
    period_end: datetime
    period_spend_pico: int


def billing_summary(*, organization: Organization, now: datetime | None = None) -> Summary:
    now = now or timezone.now()
    period = period_of(now)
    start, end = period_bounds(period)
    counter = SpendCounter.objects.filter(
        subject=spend_counters.org_subject(organization.pk),
        period=spend_counters.period_id("month", now),
    ).first()
    balance = (
        Organization.objects.filter(pk=organization.pk)
        .values_list("credit_balance_pico", flat=True)
        .first()
    )
    return Summary(
        balance_pico=balance or 0,
        plan=plan_in_force(organization_id=organization.pk, at=now),
        scheduled=scheduled_change(organization_id=organization.pk, now=now),
        period=period,
        period_start=start,
        period_end=end,
        period_spend_pico=counter.spent_pico if counter else 0,
    )


def plans_offered() -> QuerySet[Plan]:
    return Plan.objects.filter(is_active=True).order_by("monthly_fee_pico", "name")


def billing_profile_of(*, organization: Organization) -> BillingProfile | None:
    return BillingProfile.objects.filter(organization=organization).first()


def ledger_page(*, organization: Organization, page: str | int | None) -> Page:
    """The ledger, newest first; a page number out of range gives the last page."""
    entries = CreditLedgerEntry.objects.filter(organization=organization).order_by(
        "-created_at", "-id"
    )
    return Paginator(entries, LEDGER_PAGE_SIZE).get_page(page)


def invoices_of(*, organization: Organization) -> QuerySet[Invoice]:
    """Newest period first, each with its lines in one more query (no N+1)."""
    return (
        Invoice.objects.filter(organization=organization)
        .order_by("-period_start", "-id")
        .prefetch_related(_lines())
    )


def invoice_get(*, organization: Organization, invoice_id: int) -> Invoice:
    """404 for another organization's invoice, like a missing one."""
    invoice = invoices_of(organization=organization).filter(pk=invoice_id).first()
    if invoice is None:
        raise Http404("No such invoice.")
    return invoice


def _lines() -> Prefetch:
    return Prefetch("lines", queryset=InvoiceLine.objects.order_by("position", "id"))


# --- usage, from the rollups -------------------------------------------------------------


@dataclass(frozen=True)
class UsageRow:
    group: dict
    requests: int
    input_tokens: int
    output_tokens: int
    cost_pico: int


_SUMS = {
    "requests": Sum("requests"),
    "input_tokens": Sum("input_tokens"),
    "output_tokens": Sum("output_tokens"),
    "cost_pico": Sum("cost_pico"),
}


def usage_summary(
    *, organization: Organization, start: date, end: date, group_by: str
) -> tuple[list[UsageRow], UsageRow]:
    """Usage per day, model or key over the days [start, end] (both included), and the
    total, from the rollups."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by is one of {', '.join(GROUPS)}")
    rollups = UsageRollup.objects.filter(organization=organization, day__gte=start, day__lte=end)
    field = {"day": "day", "model": "model", "key": "key_id"}[group_by]
    grouped = rollups.values(field).annotate(**_SUMS).order_by(field)
    total = rollups.aggregate(**_SUMS)
    keys = {}
    if group_by == "key":
        ids = [row["key_id"] for row in grouped if row["key_id"]]
        keys = {
            k.pk: k
            for k in APIKey.objects.filter(organization=organization, pk__in=ids).only(
                "pk", "name", "prefix"
            )
        }
    rows = [_usage_row(_group(group_by, row, keys), row) for row in grouped]
    return rows, _usage_row({}, total)


def _group(group_by: str, row: dict, keys: dict) -> dict:
    if group_by == "day":
        return {"day": row["day"].isoformat()}
    if group_by == "model":
        return {"model": row["model"]}
    key = keys.get(row["key_id"])
    return {
        "key_id": row["key_id"] or None,
        "key_name": key.name if key else None,
        "key_prefix": key.prefix if key else None,
    }


def _usage_row(group: dict, sums: dict) -> UsageRow:
    return UsageRow(
        group=group,
        requests=sums["requests"] or 0,
        input_tokens=sums["input_tokens"] or 0,
        output_tokens=sums["output_tokens"] or 0,
        cost_pico=sums["cost_pico"] or 0,
    )


# --- the staff review --------------------------------------------------------------------

REVIEW_STATUSES = (InvoiceStatus.DRAFT, InvoiceStatus.IN_REVIEW)


def invoices_for_review(*, status: str = "", period: str = "") -> QuerySet[Invoice]:
    """Invoices across organizations: by default the ones waiting for a decision (draft
    and in review); `status` "all" or one status, `period` "YYYY-MM" narrow it."""
    invoices = Invoice.objects.select_related("organization").order_by(
        "-period_start", "organization__name", "id"
    )
    if status == "all":
        pass
    elif status:
        invoices = invoices.filter(status=status)
    else:
        invoices = invoices.filter(status__in=REVIEW_STATUSES)
    if period:
        invoices = invoices.filter(period=period)
    return invoices


def invoice_for_staff(*, invoice_id: int) -> Invoice:
    invoice = (
        Invoice.objects.select_related("organization")
        .prefetch_related(_lines(), "credit_notes")
        .filter(pk=invoice_id)
        .first()
    )
    if invoice is None:
        raise Http404("No such invoice.")
    return invoice


def line_for_staff(*, invoice: Invoice, line_id: int) -> InvoiceLine:
    line = InvoiceLine.objects.filter(invoice=invoice, pk=line_id).first()
    if line is None:
        raise Http404("No such line on this invoice.")
    return line


@dataclass(frozen=True)
class UsagePage:
    records: list[UsageRecord]
    # The cursor of the next (older) page, "" on the last one.
    next_cursor: str
    period: str
    late_only: bool


def line_usage(*, invoice: Invoice, line: InvoiceLine, cursor: str = "") -> UsagePage:
    """The usage records behind a line, newest first, a page at a time by keyset over
    (created_at, id): the organization's records of that line's model in the invoice's
    period (of its own provider keys for a BYOK fee line, of the others for usage); an adjustment line covers an earlier period's records that arrived after that
    period's invoice was finalized (above its usage watermark)."""
    period = invoice.period
    records = UsageRecord.objects.filter(organization_id=invoice.organization_id)
    late_only = False
    if line.kind == LineKind.ADJUSTMENT and line.covers_period:
        period = line.covers_period
        late_only = True
        covered = Invoice.objects.filter(
            organization_id=invoice.organization_id, period=period
        ).first()
        if covered is not None:
            records = records.filter(pk__gt=covered.usage_watermark)
    start, end = period_bounds(period)
    records = records.filter(created_at__gte=start, created_at__lt=end)
    if line.model:
        records = records.filter(model=line.model)
    # Usage lines bill the records not served by the organization's own keys; a fee line
    # bills exactly those (billing.byok).
    if line.kind in (LineKind.USAGE, LineKind.OVERAGE):
        records = records.filter(byok=False)
    elif line.kind == LineKind.BYOK_FEE:
        records = records.filter(byok=True)
    after = _cursor(cursor)
    if after is not None:
        at, pk = after
        records = records.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    page = list(
        records.select_related("api_key").order_by("-created_at", "-id")[: USAGE_PAGE_SIZE + 1]
    )
    more = len(page) > USAGE_PAGE_SIZE
    page = page[:USAGE_PAGE_SIZE]
    next_cursor = f"{page[-1].created_at.isoformat()}|{page[-1].pk}" if more else ""
    return UsagePage(records=page, next_cursor=next_cursor, period=period, late_only=late_only)


def _cursor(text: str) -> tuple[datetime, int] | None:
    """A cursor from the page's own link; anything else starts from the newest."""
    at, _, pk = (text or "").partition("|")
    try:
        moment = datetime.fromisoformat(at)
        return (moment if moment.tzinfo else timezone.make_aware(moment)), int(pk)
    except ValueError:
        return None


def audit_page(*, page: str | int | None, organization_id: int | None = None) -> Page:
    entries = BillingAudit.objects.select_related("actor", "organization").order_by(
        "-created_at", "-id"
    )
    if organization_id:
        entries = entries.filter(organization_id=organization_id)
    return Paginator(entries, AUDIT_PAGE_SIZE).get_page(page)


def audit_of_invoice(*, invoice: Invoice) -> QuerySet[BillingAudit]:
    return BillingAudit.objects.select_related("actor").filter(target=f"invoice:{invoice.pk}")


def organization_for_staff(*, slug: str) -> Organization:
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        raise Http404("No such organization.")
    return organization
