"""Marks the (organization, day) pairs whose rollup is behind their usage records.

The usage writer calls `mark` in the transaction that inserts the records. The upsert
takes a row lock on each mark until that transaction commits, so the rollup task, which
deletes a mark before it recomputes its day, waits for the writer and then reads its
records: a record can never be committed behind a cleared mark."""

from collections.abc import Iterable
from datetime import UTC
from typing import TYPE_CHECKING

from django.db import connection

from billing.models import RollupDirty

if TYPE_CHECKING:
    from billing.usage import UsageEvent


def mark(events: Iterable["UsageEvent"]) -> None:
    pairs = sorted({(e.organization_id, e.created_at.astimezone(UTC).date()) for e in events})
    if not pairs:
        return
    table = connection.ops.quote_name(RollupDirty._meta.db_table)
    values = ", ".join(["(%s, %s, 1)"] * len(pairs))
    params: list = []
    for organization_id, day in pairs:
        params += [organization_id, connection.ops.adapt_datefield_value(day)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (organization_id, day, marks) VALUES {values} "
            f"ON CONFLICT (organization_id, day) DO UPDATE SET marks = {table}.marks + 1",
            params,
        )
