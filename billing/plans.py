"""Which plan an organization is on at a moment, and over a period: read side.

The plan in force at t is the latest PlanChange at or before t; an organization with
none is on the default plan (the plans file's `default: true`), or, with no plans at all,
on the built-in prepaid plan `payg` (the contract's "none: one prepaid plan")."""

from dataclasses import dataclass
from datetime import datetime

from billing.models import Overage, Plan, PlanChange, PlanKind


@dataclass(frozen=True, slots=True)
class Terms:
    """A plan as plain values: what admission, the writer and invoices need of it."""

    name: str
    kind: str = PlanKind.PREPAID
    monthly_fee_pico: int = 0
    included_pico: int = 0
    overage: str = ""

    @property
    def prepaid(self) -> bool:
        return self.kind == PlanKind.PREPAID

    @property
    def capped(self) -> bool:
        """Requests stop at the included usage (402 plan_cap)."""
        return self.kind == PlanKind.FLAT and self.overage == Overage.CAP

    @classmethod
    def of(cls, plan: Plan) -> "Terms":
        return cls(
            name=plan.name,
            kind=plan.kind,
            monthly_fee_pico=plan.monthly_fee_pico,
            included_pico=plan.included_pico,
            overage=plan.overage,
        )


BUILTIN = Terms(name="payg")


def default_terms() -> Terms:
    plan = Plan.objects.filter(is_default=True).first()
    return Terms.of(plan) if plan is not None else BUILTIN


def plan_in_force(*, organization_id: int, at: datetime) -> Terms:
    change = (
        PlanChange.objects.filter(organization_id=organization_id, effective_at__lte=at)
        .select_related("plan")
        .order_by("-effective_at")
        .first()
    )
    return Terms.of(change.plan) if change is not None else default_terms()


def scheduled_change(*, organization_id: int, now: datetime) -> PlanChange | None:
    """The next change that has not taken effect yet (a downgrade at the period's end)."""
    return (
        PlanChange.objects.filter(organization_id=organization_id, effective_at__gt=now)
        .select_related("plan")
        .order_by("effective_at")
        .first()
    )


@dataclass(frozen=True, slots=True)
class Segment:
    """[start, end) of a period under one plan; `prorated` when it began with an upgrade
    taken at once (its fee difference is prorated over the rest of the period)."""

    terms: Terms
    start: datetime
    end: datetime
    prorated: bool = False


def plan_segments(*, organization_id: int, start: datetime, end: datetime) -> list[Segment]:
    """The plans in force over [start, end), in order; at least one segment."""
    first = plan_in_force(organization_id=organization_id, at=start)
    changes = PlanChange.objects.filter(
        organization_id=organization_id, effective_at__gt=start, effective_at__lt=end
    ).select_related("plan")
    segments: list[Segment] = []
    at, terms, prorated = start, first, False
    for change in changes.order_by("effective_at"):
        segments.append(Segment(terms, at, change.effective_at, prorated))
        at, terms, prorated = change.effective_at, Terms.of(change.plan), change.prorated
    segments.append(Segment(terms, at, end, prorated))
    return segments
