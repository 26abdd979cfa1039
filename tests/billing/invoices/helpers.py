"""Usage written through the real writer (billing.usage.usage_record_batch), plans, and
a way to run each hypothesis example in a transaction of its own."""

import itertools
from contextlib import contextmanager
from datetime import UTC, datetime

from django.db import transaction

from accounts.models import Organization
from billing.models import Plan, PlanChange, PlanKind, UsageRecord, UsageRollup
from billing.usage import UsageEvent, usage_record_batch

_ids = itertools.count(1)
OCT = datetime(2026, 10, 1, tzinfo=UTC)
NOV = datetime(2026, 11, 1, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)
# Mid-November: October is closed (past its grace), November is running.
NOW = datetime(2026, 11, 15, 12, tzinfo=UTC)


class _Rollback(Exception):
    pass


@contextmanager
def rolled_back():
    """Everything inside is undone afterwards: one hypothesis example's rows never meet
    the next one's."""
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


def make_org(slug: str | None = None) -> Organization:
    slug = slug or f"org-{next(_ids)}"
    return Organization.objects.create(name=slug, slug=slug)


def event(
    org: Organization | int,
    *,
    at: datetime,
    cost: int,
    model: str = "m1",
    key_id: int | None = None,
    prepaid: bool = True,
    status: str = "ok",
    tokens: tuple[int, int] = (10, 5),
    request_id: str | None = None,
) -> UsageEvent:
    return UsageEvent(
        request_id=request_id or f"req_{next(_ids)}",
        organization_id=org if isinstance(org, int) else org.pk,
        api_key_id=key_id,
        endpoint="chat",
        model=model,
        status=status,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        cost_pico=cost,
        created_at=at,
        prepaid=prepaid,
    )


def write(events) -> int:
    return usage_record_batch(list(events))


def flat_plan(name: str, *, fee: int, included: int, overage: str = "bill") -> Plan:
    return Plan.objects.create(
        name=name, kind=PlanKind.FLAT, monthly_fee_pico=fee, included_pico=included, overage=overage
    )


def put_on(org: Organization, plan: Plan, at: datetime, *, prorated: bool = False) -> PlanChange:
    return PlanChange.objects.create(
        organization=org, plan=plan, effective_at=at, prorated=prorated
    )


def raw_rollup() -> dict:
    """The rollup rows as the records say they should be: (org, day, key, model) → sums."""
    out: dict = {}
    for r in UsageRecord.objects.all():
        k = (r.organization_id, r.created_at.astimezone(UTC).date(), r.api_key_id or 0, r.model)
        s = out.setdefault(k, [0, 0, 0, 0, 0, 0, 0, 0])
        s[0] += 1
        s[1] += r.status != "ok"
        s[2] += r.input_tokens
        s[3] += r.output_tokens
        s[4] += r.cached_tokens
        s[5] += r.cache_write_tokens
        s[6] += r.cost_pico
        s[7] += r.cost_pico if r.ledger_entry_id else 0
    return out


def stored_rollup() -> dict:
    return {
        (r.organization_id, r.day, r.key_id, r.model): [
            r.requests, r.errors, r.input_tokens, r.output_tokens, r.cached_tokens,
            r.cache_write_tokens, r.cost_pico, r.debited_pico,
        ]
        for r in UsageRollup.objects.all()
    }  # fmt: skip
