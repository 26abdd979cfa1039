"""Which plan an organization is on at a moment, and over a period: read side.

The plan in force at t is the latest PlanChange at or before t; an organization with
none is on the default plan (the plans file's `default: true`), or, with no plans at all,
on the built-in prepaid plan `payg` (the contract's "none: one prepaid plan")."""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Q, Subquery, Value, When
from django.utils import timezone

from accounts.models import Organization
from billing import plans_file
from billing.audit import audit_record
from billing.models import Overage, Plan, PlanChange, PlanKind
from billing.periods import next_start, period_bounds, period_of


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
    """One query (the gateway reads it with each key, proxy.auth): the plan of the latest
    change at or before `at`, else the default plan, else the built-in one."""
    latest = (
        PlanChange.objects.filter(organization_id=organization_id, effective_at__lte=at)
        .order_by("-effective_at")
        .values("plan_id")[:1]
    )
    chosen = Case(
        When(pk=Subquery(latest), then=Value(1)), default=Value(0), output_field=IntegerField()
    )
    plan = (
        Plan.objects.filter(Q(pk=Subquery(latest)) | Q(is_default=True))
        .annotate(chosen=chosen)
        .order_by("-chosen")
        .first()
    )
    return Terms.of(plan) if plan is not None else BUILTIN


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


# -- services ------------------------------------------------------------------------


@dataclass
class PlansSummary:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    default: str = ""

    def __str__(self) -> str:
        default = self.default or f"none ({BUILTIN.name}, prepaid, built in)"
        return (
            f"plans: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged; default: {default}"
        )


def plans_load(*, data: dict) -> PlansSummary:
    """Creates or updates the plans of a plans file's mapping (billing.plans_file), in one
    transaction; idempotent. Plans the file does not name stay (organizations may be on
    them); the file's default plan, when it names one, becomes the only default."""
    specs = plans_file.specs(data)
    summary = PlansSummary()
    with transaction.atomic():
        existing = {p.name: p for p in Plan.objects.select_for_update()}
        if any(s.is_default for s in specs):
            Plan.objects.filter(is_default=True).exclude(
                name__in=[s.name for s in specs if s.is_default]
            ).update(is_default=False)
        for spec in specs:
            values = {
                "kind": spec.kind,
                "is_default": spec.is_default,
                "monthly_fee_pico": spec.monthly_fee_pico,
                "included_pico": spec.included_pico,
                "overage": spec.overage,
                "is_active": True,
            }
            plan = existing.get(spec.name)
            if plan is None:
                Plan.objects.create(name=spec.name, **values)
                summary.created += 1
            elif any(getattr(plan, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(plan, k, v)
                plan.updated_at = timezone.now()
                plan.save(update_fields=[*values, "updated_at"])
                summary.updated += 1
            else:
                summary.unchanged += 1
        default = Plan.objects.filter(is_default=True).values_list("name", flat=True).first()
        summary.default = default or ""
    return summary


def plans_load_path(*, path: str) -> PlansSummary:
    """Loads a plans file. Web processes starting together may load the same file at once:
    the one whose insert loses the race to a unique name loads again and finds it done."""
    data = plans_file.load(path)
    try:
        return plans_load(data=data)
    except IntegrityError:
        return plans_load(data=data)


def plan_set(
    *,
    organization: Organization,
    plan: Plan,
    now: bool = False,
    upgrade_at_once: bool = False,
    actor=None,
    at: datetime | None = None,
    reason: str = "",
) -> PlanChange | None:
    """Moves the organization to `plan`: at once (`now`, or `upgrade_at_once` and the plan's
    fee is higher: the portal's upgrade), a change at `at` marked prorated so the period's
    invoice prorates the fees; otherwise from the next period's start, replacing any change
    already scheduled. The plan it is on, with nothing else scheduled, is a no-op (None);
    choosing it again while a change is scheduled cancels that change. Audited."""
    at = at or timezone.now()
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        current = plan_in_force(organization_id=organization.pk, at=at)
        scheduled = scheduled_change(organization_id=organization.pk, now=at)
        before = _state(current, scheduled)
        immediate = now or (upgrade_at_once and plan.monthly_fee_pico > current.monthly_fee_pico)
        if plan.name == current.name:
            if scheduled is None:
                return None
            PlanChange.objects.filter(organization=organization, effective_at__gt=at).delete()
            _audit(organization, actor, before, _state(current, None), reason)
            return None
        if not immediate and scheduled is not None and scheduled.plan_id == plan.pk:
            return None  # already scheduled
        PlanChange.objects.filter(organization=organization, effective_at__gt=at).delete()
        effective = at if immediate else next_start(period_bounds(period_of(at))[0])
        change, _ = PlanChange.objects.update_or_create(
            organization=organization,
            effective_at=effective,
            defaults={
                "plan": plan,
                "prorated": immediate,
                "created_by": actor if getattr(actor, "is_authenticated", False) else None,
            },
        )
        after = _state(Terms.of(plan), None) if immediate else _state(current, change)
        _audit(organization, actor, before, after, reason)
    return change


def _state(terms: Terms, scheduled: PlanChange | None) -> dict:
    return {
        "plan": terms.name,
        "scheduled": None
        if scheduled is None
        else {"plan": scheduled.plan.name, "at": scheduled.effective_at.isoformat()},
    }


def _audit(organization: Organization, actor, before: dict, after: dict, reason: str) -> None:
    audit_record(
        actor=actor,
        action="plan_set",
        target=f"organization:{organization.slug}",
        organization=organization,
        before=before,
        after=after,
        reason=reason,
    )
