"""Usage rows in bulk, the cheapest way each database takes them.

This runs in a thread of the proxy process, beside the event loop that serves /v1, so
its Python must stay small: the ORM's bulk_create cost ~0.2 ms a row, and
psycopg splitting one multi-row INSERT of ~4,000 placeholders in Python ~20 ms a batch,
both holding the GIL the event loop needs (p99 spikes of 5 to 40 ms on /v1). SQLite
takes one multi-row INSERT per chunk; Postgres takes COPY, whose rows psycopg encodes
in C. Request ids already written are skipped (a retried batch), so the caller debits
only what is new.
"""

from collections.abc import Callable, Sequence
from functools import cache
from typing import TYPE_CHECKING

from django.db import connection

from billing.models import UsageRecord

if TYPE_CHECKING:
    from billing.usage import UsageEvent

# 30 columns x 400 rows = 12,000 parameters, under SQLite's limit of 32,766.
SQLITE_ROWS = 400


@cache
def _columns() -> tuple:
    """Every column but the id, each filled from the event attribute of its name
    (tests/proxy/test_usage.py reads a record back field by field)."""
    return tuple(f for f in UsageRecord._meta.concrete_fields if not f.primary_key)


def insert_new(
    events: Sequence["UsageEvent"],
    *,
    before_insert: Callable[[Sequence["UsageEvent"]], None] | None = None,
) -> set[str]:
    """Inserts the events whose request id has no row yet; returns those request ids.
    `before_insert` sees just those events first (to fill in what their rows point at).
    Call inside the caller's transaction."""
    columns = _columns()
    names = [f.attname for f in columns]
    ops = connection.ops
    table = ops.quote_name(UsageRecord._meta.db_table)
    column_list = ", ".join(ops.quote_name(f.column) for f in columns)
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        seen = _existing(cursor, table, [e.request_id for e in events], postgres=postgres)
        fresh = [e for e in events if e.request_id not in seen]
        if not fresh:
            return set()
        if before_insert is not None:
            before_insert(fresh)
        rows = [[getattr(e, name) for name in names] for e in fresh]
        if postgres:
            with cursor.cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            at = names.index("created_at")
            marks = "(" + ", ".join(["%s"] * len(names)) + ")"
            for start in range(0, len(rows), SQLITE_ROWS):
                chunk = rows[start : start + SQLITE_ROWS]
                params = []
                for row in chunk:
                    row[at] = ops.adapt_datetimefield_value(row[at])
                    params += row
                cursor.execute(
                    f"INSERT INTO {table} ({column_list}) VALUES {', '.join([marks] * len(chunk))}",
                    params,
                )
    return {e.request_id for e in fresh}


def _existing(cursor, table: str, ids: list[str], *, postgres: bool) -> set[str]:
    if postgres:  # one array parameter, not one placeholder per id
        cursor.execute(f"SELECT request_id FROM {table} WHERE request_id = ANY(%s)", [ids])
        return {r[0] for r in cursor.fetchall()}
    seen: set[str] = set()
    for start in range(0, len(ids), SQLITE_ROWS):
        chunk = ids[start : start + SQLITE_ROWS]
        marks = ", ".join(["%s"] * len(chunk))
        cursor.execute(f"SELECT request_id FROM {table} WHERE request_id IN ({marks})", chunk)
        seen.update(r[0] for r in cursor.fetchall())
    return seen
