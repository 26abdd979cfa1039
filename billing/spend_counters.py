"""What each key and organization spent per period, one row each (billing.models.SpendCounter).

The usage writer adds every batch's costs here in its own transaction, so a budget's
reservation (billing.holds) starts from one indexed row, however much usage there is.
Periods are UTC: a day starts at 00:00, a week on Monday, a month on the 1st.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection

from billing.models import SpendCounter

TOTAL = "total"


def period_id(period: str, at: datetime) -> str:
    """The counter period holding `at` for a budget period (accounts.models.BudgetPeriod)."""
    at = at.astimezone(UTC)
    if period == "day":
        return f"d{at:%Y-%m-%d}"
    if period == "week":
        return f"w{(at - timedelta(days=at.weekday())):%Y-%m-%d}"
    if period == "month":
        return f"m{at:%Y-%m}"
    return TOTAL


def resets_at(period: str, at: datetime) -> datetime | None:
    """When the period holding `at` ends; None for a total that never resets."""
    at = at.astimezone(UTC)
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return midnight + timedelta(days=1)
    if period == "week":
        return midnight + timedelta(days=7 - at.weekday())
    if period == "month":
        first = midnight.replace(day=1)
        return (first + timedelta(days=32)).replace(day=1)
    return None


def key_subject(key_id: int) -> str:
    return f"key:{key_id}"


def org_subject(organization_id: int) -> str:
    return f"org:{organization_id}"


def increments(events: Iterable) -> dict[tuple[str, str], int]:
    """(subject, period) → pico-USD to add, for usage events with a cost: each key's total,
    day, week and month, and each organization's month."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    for e in events:
        if e.cost_pico <= 0:
            continue
        if e.api_key_id is not None:
            subject = key_subject(e.api_key_id)
            for period in ("total", "day", "week", "month"):
                out[(subject, period_id(period, e.created_at))] += e.cost_pico
        out[(org_subject(e.organization_id), period_id("month", e.created_at))] += e.cost_pico
    return out


def add(events: Iterable) -> None:
    """Adds the events' costs to their counters; call inside the writer's transaction.
    One upsert per counter, in a fixed order so that concurrent writers never deadlock."""
    rows = sorted(increments(events).items())
    if not rows:
        return
    table = connection.ops.quote_name(SpendCounter._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 500):
            chunk = rows[start : start + 500]
            marks = ", ".join(["(%s, %s, %s)"] * len(chunk))
            params = [v for (subject, period), pico in chunk for v in (subject, period, pico)]
            cursor.execute(
                f"INSERT INTO {table} (subject, period, spent_pico) VALUES {marks} "
                "ON CONFLICT (subject, period) DO UPDATE "
                f"SET spent_pico = {table}.spent_pico + excluded.spent_pico",
                params,
            )


def spent(subject: str, period: str) -> int:
    return (
        SpendCounter.objects.filter(subject=subject, period=period)
        .values_list("spent_pico", flat=True)
        .first()
        or 0
    )


def keys_spent(keys, at: datetime | None = None) -> dict[int, int]:
    """What each key (accounts.models.APIKey) spent in the period of its budget holding
    `at` (now when None), in one query: key id → pico-USD (missing when nothing)."""
    at = at or datetime.now(UTC)
    wanted = {(key_subject(k.pk), period_id(k.budget_period, at)): k.pk for k in keys}
    if not wanted:
        return {}
    rows = SpendCounter.objects.filter(
        subject__in={s for s, _ in wanted}, period__in={p for _, p in wanted}
    ).values_list("subject", "period", "spent_pico")
    return {wanted[(s, p)]: pico for s, p, pico in rows if (s, p) in wanted}
