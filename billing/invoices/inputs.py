"""What a period's invoices are made of, read in bulk: a few grouped queries per period
whatever the number of organizations (10,000 organizations must not mean 10,000 × n
queries)."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db import connection
from django.db.models import F, Sum

from billing.invoices.lines import ModelUsage
from billing.models import (
    CreditLedgerEntry,
    LedgerKind,
    PlanChange,
    PlanKind,
    UsageRecord,
    UsageRollup,
)
from billing.plans import Segment, Terms, default_terms

# Ids per IN (…) list: under SQLite's limit of variables, whatever it was compiled with.
IDS = 900


def chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ids = sorted(ids)
    for i in range(0, len(ids), IDS):
        yield ids[i : i + IDS]


def rollup_usage(
    *, start: datetime, end: datetime, organization_ids: set[int] | None
) -> dict[int, dict[str, ModelUsage]]:
    """Σ rollups per organization and model over the days of [start, end)."""
    rows = UsageRollup.objects.filter(day__gte=start.date(), day__lt=end.date())
    out: dict[int, dict[str, ModelUsage]] = defaultdict(dict)
    for part in scoped(rows, organization_ids):
        for r in part.values("organization_id", "model").annotate(
            cost=Sum("cost_pico"),
            tokens=Sum(F("input_tokens") + F("output_tokens")),
            debited=Sum("debited_pico"),
            byok_cost=Sum("byok_cost_pico"),
            fee=Sum("fee_pico"),
            debited_fee=Sum("debited_fee_pico"),
        ):
            out[r["organization_id"]][r["model"]] = ModelUsage(
                int(r["cost"] or 0),
                int(r["tokens"] or 0),
                int(r["debited"] or 0),
                int(r["byok_cost"] or 0),
                int(r["fee"] or 0),
                int(r["debited_fee"] or 0),
            )
    return out


def rollup_totals(
    *, start: datetime, end: datetime, organization_ids: set[int] | None
) -> dict[int, tuple[int, int]]:
    """(Σ charged: usage of non-BYOK records and BYOK fees, Σ debited) of the rollups per
    organization over [start, end)."""
    return {
        org: (
            sum(u.usage_pico + u.fee_pico for u in m.values()),
            sum(u.debited_pico for u in m.values()),
        )
        for org, m in rollup_usage(start=start, end=end, organization_ids=organization_ids).items()
    }


def raw_totals(
    *, start: datetime, end: datetime, organization_ids: set[int] | None
) -> dict[int, tuple[int, int, int, int]]:
    """(Σ cost of the non-BYOK records, Σ what a ledger debit paid (cost or fee), Σ BYOK
    fees, Σ BYOK fees a debit paid) of the raw usage records per organization: what the
    check compares the rollups to."""
    usage = connection.ops.quote_name(UsageRecord._meta.db_table)
    sql = (
        "SELECT organization_id, SUM(CASE WHEN byok THEN 0 ELSE cost_pico END), "
        "SUM(CASE WHEN ledger_entry_id IS NULL THEN 0 WHEN byok THEN fee_pico "
        "ELSE cost_pico END), SUM(CASE WHEN byok THEN fee_pico ELSE 0 END), "
        "SUM(CASE WHEN ledger_entry_id IS NOT NULL AND byok THEN fee_pico ELSE 0 END) "
        f"FROM {usage} WHERE created_at >= %s AND created_at < %s"
    )
    ops = connection.ops
    bounds = [ops.adapt_datetimefield_value(start), ops.adapt_datetimefield_value(end)]
    out: dict[int, tuple[int, int, int, int]] = {}
    with connection.cursor() as cursor:
        if organization_ids is None:
            cursor.execute(sql + " GROUP BY organization_id", bounds)
            out.update({r[0]: tuple(int(v or 0) for v in r[1:5]) for r in cursor.fetchall()})
            return out
        for ids in chunks(organization_ids):
            marks = ", ".join(["%s"] * len(ids))
            cursor.execute(
                sql + f" AND organization_id IN ({marks}) GROUP BY organization_id", bounds + ids
            )
            out.update({r[0]: tuple(int(v or 0) for v in r[1:5]) for r in cursor.fetchall()})
    return out


def ledger_debits(*, period: str, organization_ids: set[int] | None) -> dict[int, tuple[int, int]]:
    """What the ledger debited per organization for the period's usage and BYOK fees, and
    of that for the fees alone (both positive)."""
    rows = CreditLedgerEntry.objects.filter(
        kind__in=(LedgerKind.USAGE, LedgerKind.BYOK_FEE), period=period
    )
    out: dict[int, tuple[int, int]] = {}
    for part in scoped(rows, organization_ids):
        for r in part.values("organization_id", "kind").annotate(s=Sum("amount_pico")):
            total, fees = out.get(r["organization_id"], (0, 0))
            amount = -int(r["s"] or 0)
            fee = amount if r["kind"] == LedgerKind.BYOK_FEE else 0
            out[r["organization_id"]] = (total + amount, fees + fee)
    return out


def segments_by_org(
    *, start: datetime, end: datetime, organization_ids: set[int] | None
) -> tuple[dict[int, list[Segment]], list[Segment]]:
    """The plan segments of [start, end) per organization that ever changed plan before
    `end` (billing.plans.plan_segments' rule, read in one query), and the segments of an
    organization that never did (the default plan throughout)."""
    default = default_terms()
    changes = PlanChange.objects.filter(effective_at__lt=end).select_related("plan")
    by_org: dict[int, list[PlanChange]] = defaultdict(list)
    for part in scoped(changes, organization_ids):
        for change in part.order_by("organization_id", "effective_at"):
            by_org[change.organization_id].append(change)
    out: dict[int, list[Segment]] = {}
    for org, org_changes in by_org.items():
        terms, prorated, at = default, False, start
        segments: list[Segment] = []
        for change in org_changes:
            if change.effective_at <= start:
                terms = Terms.of(change.plan)
                continue
            segments.append(Segment(terms, at, change.effective_at, prorated))
            at, terms, prorated = change.effective_at, Terms.of(change.plan), change.prorated
        segments.append(Segment(terms, at, end, prorated))
        out[org] = segments
    return out, [Segment(default, start, end, False)]


def has_flat(segments: list[Segment]) -> bool:
    return any(s.terms.kind == PlanKind.FLAT for s in segments)


def scoped(queryset, organization_ids: set[int] | None):
    if organization_ids is None:
        yield queryset
        return
    for ids in chunks(organization_ids):
        yield queryset.filter(organization_id__in=ids)
