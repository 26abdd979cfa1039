"""Rollups: usage per UTC day × organization × key × model, recomputed from the records.

Every value is recomputed whole (absolute, never incremented), so a refresh run twice, at
once, or after a retried batch gives the same rows: a counter cannot double-count and an
aggregate cannot drift from the records it sums.

The writer marks (organization, day) dirty in the transaction that inserts the records
(billing/rollup_marks.py). `rollups_refresh` deletes the marks it takes before it reads
the records, in READ COMMITTED: a mark a writer still holds is skipped (SKIP LOCKED on
PostgreSQL) and taken by the next run, and a writer that commits after our delete makes a
new mark, so no record is ever left behind a cleared mark.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models.functions import TruncDate

from billing.models import RollupDirty, UsageRecord, UsageRollup

# (organization, day) pairs recomputed per statement: large enough that a month of
# marks for 10,000 organizations takes a few hundred statements, small enough that
# each statement's sort fits in work_mem.
CHUNK = 2_000

# The first key of the per-organization advisory locks of _recompute.
LOCK = 0x70_11_0C

_COLUMNS = (
    "organization_id, day, key_id, model, requests, errors, input_tokens, output_tokens, "
    "cached_tokens, cache_write_tokens, cost_pico, debited_pico"
)
_UPDATE = ", ".join(
    f"{c} = EXCLUDED.{c}"
    for c in (
        "requests",
        "errors",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "cache_write_tokens",
        "cost_pico",
        "debited_pico",
    )
)
_SUMS = (
    "COUNT(*), SUM(CASE WHEN u.status <> 'ok' THEN 1 ELSE 0 END), SUM(u.input_tokens), "
    "SUM(u.output_tokens), SUM(u.cached_tokens), SUM(u.cache_write_tokens), SUM(u.cost_pico), "
    "SUM(CASE WHEN u.ledger_entry_id IS NOT NULL THEN u.cost_pico ELSE 0 END)"
)


def _tables() -> tuple[str, str, str]:
    q = connection.ops.quote_name
    return (
        q(UsageRecord._meta.db_table),
        q(UsageRollup._meta.db_table),
        q(RollupDirty._meta.db_table),
    )


def rollups_refresh(*, limit: int | None = None) -> int:
    """Takes up to `limit` dirty (organization, day) marks (all of them when None) and
    recomputes those days from the usage records; returns how many days it recomputed."""
    done = 0
    while True:
        take = CHUNK if limit is None else min(CHUNK, limit - done)
        if take <= 0:
            return done
        with transaction.atomic():
            pairs = _take_marks(take)
            if not pairs:
                return done
            _recompute(pairs)
        done += len(pairs)


def _take_marks(n: int) -> list[tuple[int, date]]:
    _, _, dirty = _tables()
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {dirty} WHERE id IN (SELECT id FROM {dirty} "
            f"ORDER BY organization_id, day LIMIT %s{lock}) "
            "RETURNING organization_id, day",
            [n],
        )
        rows = cursor.fetchall()
    return sorted({(org, _as_date(day)) for org, day in rows})


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _recompute(pairs: Sequence[tuple[int, date]]) -> None:
    """The rollup rows of these (organization, day) pairs become exactly the GROUP BY of
    their records: the old rows go, the new ones are upserted with absolute values (a
    concurrent twin's rows are overwritten with the same figures, never added to).

    Each organization's days are taken as one range, first to last marked day, read in
    one index range scan: a day in between that was not marked is recomputed too, which
    changes nothing (absolute values), and is far cheaper than one probe per day."""
    usage, rollup, _ = _tables()
    spans: dict[int, list[date]] = {}
    for org, day in pairs:
        lo, hi = spans.setdefault(org, [day, day])
        spans[org] = [min(lo, day), max(hi, day)]
    orgs = sorted(spans)
    los = [spans[o][0] for o in orgs]
    his = [spans[o][1] for o in orgs]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A refresh and a rebuild of the same organization take turns (ids in order,
            # so never a deadlock), each reading the records after the other committed:
            # the last to write has read the most.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, o) FROM unnest(%s::int[]) AS o", [LOCK, orgs]
            )
            pick = "WITH d(org, lo, hi) AS (SELECT * FROM unnest(%s::bigint[], %s::date[], %s::date[])) "
            cursor.execute(
                pick + f"DELETE FROM {rollup} r USING d "
                "WHERE r.organization_id = d.org AND r.day >= d.lo AND r.day <= d.hi",
                [orgs, los, his],
            )
            day = "(u.created_at AT TIME ZONE 'UTC')::date"
            cursor.execute(
                pick + f"INSERT INTO {rollup} ({_COLUMNS}) "
                f"SELECT u.organization_id, {day}, COALESCE(u.api_key_id, 0), u.model, {_SUMS} "
                f"FROM d JOIN {usage} u ON u.organization_id = d.org "
                "AND u.created_at >= (d.lo::timestamp AT TIME ZONE 'UTC') "
                "AND u.created_at < ((d.hi + 1)::timestamp AT TIME ZONE 'UTC') "
                f"GROUP BY u.organization_id, {day}, COALESCE(u.api_key_id, 0), u.model "
                f"ON CONFLICT (organization_id, day, key_id, model) DO UPDATE SET {_UPDATE}",
                [orgs, los, his],
            )
            return
        # SQLite: one writer at a time, so an organization at a time is as safe. Datetimes
        # are stored as UTC text ("YYYY-MM-DD HH:MM:SS…"), which compares in order.
        for org, lo, hi in zip(orgs, los, his, strict=True):
            end = (hi + timedelta(days=1)).isoformat()
            cursor.execute(
                f"DELETE FROM {rollup} WHERE organization_id = %s AND day >= %s AND day <= %s",
                [org, lo.isoformat(), hi.isoformat()],
            )
            cursor.execute(
                f"INSERT INTO {rollup} ({_COLUMNS}) "
                f"SELECT u.organization_id, date(u.created_at), COALESCE(u.api_key_id, 0), "
                f"u.model, {_SUMS} FROM {usage} u WHERE u.organization_id = %s "
                "AND u.created_at >= %s AND u.created_at < %s "
                "GROUP BY u.organization_id, date(u.created_at), COALESCE(u.api_key_id, 0), u.model "
                f"ON CONFLICT (organization_id, day, key_id, model) DO UPDATE SET {_UPDATE}",
                [org, lo.isoformat(), end],
            )


def rollups_rebuild(
    *,
    organization_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
) -> int:
    """Recomputes every rollup day in [start, end) (all days when unset) of one
    organization (all when None) from the records, whether marked or not: the repair for
    a rollup changed by hand or a key deleted. Returns the days recomputed."""
    records = UsageRecord.objects.all()
    rollups = UsageRollup.objects.all()
    if organization_id is not None:
        records = records.filter(organization_id=organization_id)
        rollups = rollups.filter(organization_id=organization_id)
    if start is not None:
        records = records.filter(created_at__gte=datetime.combine(start, time(), tzinfo=UTC))
        rollups = rollups.filter(day__gte=start)
    if end is not None:
        records = records.filter(created_at__lt=datetime.combine(end, time(), tzinfo=UTC))
        rollups = rollups.filter(day__lt=end)
    pairs = set(rollups.values_list("organization_id", "day").distinct())
    pairs |= {
        (org, _as_date(day))
        for org, day in records.annotate(d=TruncDate("created_at", tzinfo=UTC))
        .values_list("organization_id", "d")
        .distinct()
    }
    ordered = sorted(pairs)
    for i in range(0, len(ordered), CHUNK):
        with transaction.atomic():
            _recompute(ordered[i : i + CHUNK])
    return len(ordered)
