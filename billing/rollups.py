"""Rollups: usage per UTC hour and per UTC day × organization × key × model, recomputed
from the records.

Every value is recomputed whole (absolute, never incremented), so a refresh run twice, at
once, or after a retried batch gives the same rows: a counter cannot double-count and an
aggregate cannot drift from the records it sums.

The writer marks (organization, day) dirty in the transaction that inserts the records
(billing/rollup_marks.py). `rollups_refresh` deletes the marks it takes before it reads
the records, in READ COMMITTED: a mark a writer still holds is skipped (SKIP LOCKED on
PostgreSQL) and taken by the next run, and a writer that commits after our delete makes a
new mark, so no record is ever left behind a cleared mark.

A marked day recomputes both tables: its 24 hourly rows from the records (one read of
them), then its daily rows as the sums of those hourly rows, in the same transaction. The
records are read once, and a day's rows equal the sum of its hours by construction.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models.functions import TruncDate

from billing.models import RollupDirty, UsageRecord, UsageRollup, UsageRollupHour

# (organization, day) pairs recomputed per statement: large enough that a month of
# marks for 10,000 organizations takes a few hundred statements, small enough that
# each statement's sort fits in work_mem.
CHUNK = 2_000

# The first key of the per-organization advisory locks of _recompute.
LOCK = 0x70_11_0C

_VALUES = (
    "requests",
    "errors",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "cost_pico",
    "debited_pico",
    "byok_cost_pico",
    "fee_pico",
    "debited_fee_pico",
)
_UPDATE = ", ".join(f"{c} = EXCLUDED.{c}" for c in _VALUES)
_SUMS = (
    "COUNT(*), SUM(CASE WHEN u.status <> 'ok' THEN 1 ELSE 0 END), SUM(u.input_tokens), "
    "SUM(u.output_tokens), SUM(u.cached_tokens), SUM(u.cache_write_tokens), SUM(u.cost_pico), "
    "SUM(CASE WHEN u.ledger_entry_id IS NULL THEN 0 WHEN u.byok THEN u.fee_pico "
    "ELSE u.cost_pico END), "
    "SUM(CASE WHEN u.byok THEN u.cost_pico ELSE 0 END), "
    "SUM(CASE WHEN u.byok THEN u.fee_pico ELSE 0 END), "
    "SUM(CASE WHEN u.ledger_entry_id IS NOT NULL AND u.byok THEN u.fee_pico ELSE 0 END)"
)
# A day's sums from its hourly rows.
_SUMS_OF_HOURS = ", ".join(f"SUM(h.{c})" for c in _VALUES)


def _columns(bucket: str) -> str:
    return f"organization_id, {bucket}, key_id, model, " + ", ".join(_VALUES)


def _tables() -> tuple[str, str, str, str]:
    q = connection.ops.quote_name
    return (
        q(UsageRecord._meta.db_table),
        q(UsageRollup._meta.db_table),
        q(RollupDirty._meta.db_table),
        q(UsageRollupHour._meta.db_table),
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
    _, _, dirty, _ = _tables()
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
    """The rollup rows, hourly and daily, of these (organization, day) pairs become exactly
    the GROUP BY of their records: the old rows go, the new ones are upserted with absolute
    values (a concurrent twin's rows are overwritten with the same figures, never added to).

    Each organization's days are taken as one range, first to last marked day, read in
    one index range scan: a day in between that was not marked is recomputed too, which
    changes nothing (absolute values), and is far cheaper than one probe per day."""
    spans: dict[int, list[date]] = {}
    for org, day in pairs:
        lo, hi = spans.setdefault(org, [day, day])
        spans[org] = [min(lo, day), max(hi, day)]
    orgs = sorted(spans)
    los = [spans[o][0] for o in orgs]
    his = [spans[o][1] for o in orgs]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _recompute_postgresql(cursor, orgs, los, his)
        else:
            _recompute_sqlite(cursor, orgs, los, his)


def _recompute_postgresql(cursor, orgs: list[int], los: list[date], his: list[date]) -> None:
    # A refresh and a rebuild of the same organization take turns (ids in order, so never
    # a deadlock), each reading the records after the other committed: the last to write
    # has read the most.
    cursor.execute("SELECT pg_advisory_xact_lock(%s, o) FROM unnest(%s::int[]) AS o", [LOCK, orgs])
    # Each organization's span is one index range scan (organization, time): joins by
    # nested loop only. Left to itself, the planner hash-joins a seq scan of the whole
    # rollup table whenever its statistics lag (a table filled by this very refresh), one
    # full scan per chunk. SET LOCAL, put back below, and undone by a rollback.
    cursor.execute("SET LOCAL enable_hashjoin = off")
    cursor.execute("SET LOCAL enable_mergejoin = off")
    try:
        _recompute_postgresql_statements(cursor, orgs, los, his)
    finally:
        cursor.execute("SET LOCAL enable_hashjoin TO DEFAULT")
        cursor.execute("SET LOCAL enable_mergejoin TO DEFAULT")


def _recompute_postgresql_statements(
    cursor, orgs: list[int], los: list[date], his: list[date]
) -> None:
    usage, rollup, _, hourly = _tables()
    pick = (
        "WITH d(org, lo, hi) AS (SELECT org, lo::timestamp AT TIME ZONE 'UTC', "
        "(hi + 1)::timestamp AT TIME ZONE 'UTC' "
        "FROM unnest(%s::bigint[], %s::date[], %s::date[]) AS s(org, lo, hi)) "
    )
    spans = [orgs, los, his]
    # The hours of [lo 00:00, hi + 1 00:00) UTC, and the days of [lo, hi].
    cursor.execute(
        pick + f"DELETE FROM {hourly} r USING d "
        "WHERE r.organization_id = d.org AND r.hour >= d.lo AND r.hour < d.hi",
        spans,
    )
    cursor.execute(
        pick + f"DELETE FROM {rollup} r USING d WHERE r.organization_id = d.org "
        "AND r.day >= (d.lo AT TIME ZONE 'UTC')::date AND r.day < (d.hi AT TIME ZONE 'UTC')::date",
        spans,
    )
    # The UTC hour as a timestamptz, whatever the session's time zone.
    hour = "date_trunc('hour', u.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    cursor.execute(
        pick + f"INSERT INTO {hourly} ({_columns('hour')}) "
        f"SELECT u.organization_id, {hour}, COALESCE(u.api_key_id, 0), u.model, {_SUMS} "
        f"FROM d JOIN {usage} u ON u.organization_id = d.org "
        "AND u.created_at >= d.lo AND u.created_at < d.hi "
        f"GROUP BY u.organization_id, {hour}, COALESCE(u.api_key_id, 0), u.model "
        f"ON CONFLICT (organization_id, hour, key_id, model) DO UPDATE SET {_UPDATE}",
        spans,
    )
    day = "(h.hour AT TIME ZONE 'UTC')::date"
    cursor.execute(
        pick + f"INSERT INTO {rollup} ({_columns('day')}) "
        f"SELECT h.organization_id, {day}, h.key_id, h.model, {_SUMS_OF_HOURS} "
        f"FROM d JOIN {hourly} h ON h.organization_id = d.org "
        "AND h.hour >= d.lo AND h.hour < d.hi "
        f"GROUP BY h.organization_id, {day}, h.key_id, h.model "
        f"ON CONFLICT (organization_id, day, key_id, model) DO UPDATE SET {_UPDATE}",
        spans,
    )


def _recompute_sqlite(cursor, orgs: list[int], los: list[date], his: list[date]) -> None:
    """SQLite: one writer at a time, so an organization at a time is as safe. Datetimes are
    stored as UTC text ("YYYY-MM-DD HH:MM:SS[.ffffff]"), which compares in order; an hour
    written as "YYYY-MM-DD HH:00:00" is what Django writes and reads back for that aware
    UTC datetime."""
    usage, rollup, _, hourly = _tables()
    hour = "strftime('%%Y-%%m-%%d %%H:00:00', u.created_at)"
    for org, lo, hi in zip(orgs, los, his, strict=True):
        start, end = (
            f"{lo.isoformat()} 00:00:00",
            f"{(hi + timedelta(days=1)).isoformat()} 00:00:00",
        )
        cursor.execute(
            f"DELETE FROM {hourly} WHERE organization_id = %s AND hour >= %s AND hour < %s",
            [org, start, end],
        )
        cursor.execute(
            f"DELETE FROM {rollup} WHERE organization_id = %s AND day >= %s AND day <= %s",
            [org, lo.isoformat(), hi.isoformat()],
        )
        cursor.execute(
            f"INSERT INTO {hourly} ({_columns('hour')}) "
            f"SELECT u.organization_id, {hour}, COALESCE(u.api_key_id, 0), u.model, {_SUMS} "
            f"FROM {usage} u WHERE u.organization_id = %s "
            "AND u.created_at >= %s AND u.created_at < %s "
            f"GROUP BY u.organization_id, {hour}, COALESCE(u.api_key_id, 0), u.model "
            f"ON CONFLICT (organization_id, hour, key_id, model) DO UPDATE SET {_UPDATE}",
            [org, start, end],
        )
        cursor.execute(
            f"INSERT INTO {rollup} ({_columns('day')}) "
            f"SELECT h.organization_id, date(h.hour), h.key_id, h.model, {_SUMS_OF_HOURS} "
            f"FROM {hourly} h WHERE h.organization_id = %s AND h.hour >= %s AND h.hour < %s "
            "GROUP BY h.organization_id, date(h.hour), h.key_id, h.model "
            f"ON CONFLICT (organization_id, day, key_id, model) DO UPDATE SET {_UPDATE}",
            [org, start, end],
        )


def rollups_rebuild(
    *,
    organization_id: int | None = None,
    start: date | None = None,
    end: date | None = None,
) -> int:
    """Recomputes every rollup day in [start, end) (all days when unset) of one
    organization (all when None) from the records, whether marked or not, hourly and daily
    rows alike: the repair for a rollup changed by hand or a key deleted. A day that only
    a stray row (daily or hourly) still names is recomputed too, so that row goes. Returns
    the days recomputed."""
    records = UsageRecord.objects.all()
    rollups = UsageRollup.objects.all()
    hours = UsageRollupHour.objects.all()
    if organization_id is not None:
        records = records.filter(organization_id=organization_id)
        rollups = rollups.filter(organization_id=organization_id)
        hours = hours.filter(organization_id=organization_id)
    if start is not None:
        since = datetime.combine(start, time(), tzinfo=UTC)
        records = records.filter(created_at__gte=since)
        rollups = rollups.filter(day__gte=start)
        hours = hours.filter(hour__gte=since)
    if end is not None:
        until = datetime.combine(end, time(), tzinfo=UTC)
        records = records.filter(created_at__lt=until)
        rollups = rollups.filter(day__lt=end)
        hours = hours.filter(hour__lt=until)
    pairs = set(rollups.values_list("organization_id", "day").distinct())
    for rows, column in ((records, "created_at"), (hours, "hour")):
        pairs |= {
            (org, _as_date(day))
            for org, day in rows.annotate(d=TruncDate(column, tzinfo=UTC))
            .values_list("organization_id", "d")
            .distinct()
        }
    ordered = sorted(pairs)
    for i in range(0, len(ordered), CHUNK):
        with transaction.atomic():
            _recompute(ordered[i : i + CHUNK])
    return len(ordered)
