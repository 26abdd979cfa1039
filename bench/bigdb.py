"""A "big" database for the hot-path scenarios: 1,000 organizations, 100,000 API keys and
10,000,000 usage rows, written by the database itself (`INSERT … SELECT` over a recursive
CTE in SQLite, `generate_series` in Postgres), so it takes minutes, not hours.

Columns come from the models' own metadata, so a new NOT NULL column gets its default and
this script keeps working while the schema moves. Run by bench/databases.py as

    DATABASE_URL=sqlite:///… python bench/bigdb.py --keys 100000 --usage 10000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")

import django

django.setup()

from django.db import connection, models, transaction  # noqa: E402

from accounts.models import APIKey, Organization  # noqa: E402
from billing.models import UsageRecord  # noqa: E402

SQLITE = connection.vendor == "sqlite"
BATCH = 1_000_000


def text(i_expr: str, prefix: str, width: int = 0) -> str:
    if SQLITE:
        return (
            f"'{prefix}' || printf('%0{width}d', {i_expr})" if width else f"'{prefix}' || {i_expr}"
        )
    return (
        f"'{prefix}' || lpad(({i_expr})::text, {width}, '0')"
        if width
        else f"'{prefix}' || ({i_expr})"
    )


def ago(i_expr: str) -> str:
    """A time within the last 30 days, spread over the rows."""
    secs = f"(({i_expr}) % 2592000)"
    if SQLITE:
        return f"strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || {secs} || ' seconds')"
    return f"now() - {secs} * interval '1 second'"


def literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return ("1" if value else "0") if SQLITE else ("true" if value else "false")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | dict):
        value = json.dumps(value)
    if isinstance(value, dt.datetime):
        return ago("0")
    return "'" + str(value).replace("'", "''") + "'"


def column_exprs(model: type[models.Model], overrides: dict[str, str]) -> dict[str, str]:
    exprs = {}
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        if f.name in overrides:
            exprs[f.column] = overrides[f.name]
        elif f.null:
            exprs[f.column] = "NULL"
        elif f.has_default():
            exprs[f.column] = literal(f.get_default())
        elif f.choices:
            exprs[f.column] = literal(f.choices[0][0])
        elif isinstance(f, models.DateTimeField):
            exprs[f.column] = ago("i")
        elif isinstance(f, models.IntegerField | models.FloatField | models.BooleanField):
            exprs[f.column] = literal(False if isinstance(f, models.BooleanField) else 0)
        else:
            exprs[f.column] = "''"
    return exprs


def insert(model: type[models.Model], first: int, last: int, overrides: dict[str, str]) -> None:
    exprs = column_exprs(model, overrides)
    cols, values = ", ".join(exprs), ", ".join(exprs.values())
    table = model._meta.db_table
    if SQLITE:
        sql = (f"WITH RECURSIVE s(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM s WHERE i < {last}) "
               f"INSERT INTO {table} ({cols}) SELECT {values} FROM s")  # fmt: skip
    else:
        sql = f"INSERT INTO {table} ({cols}) SELECT {values} FROM generate_series({first}, {last}) AS s(i)"
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql)


def id_range(model: type[models.Model], field: str, prefix: str) -> tuple[int, int]:
    ids = model.objects.filter(**{f"{field}__startswith": prefix}).aggregate(
        lo=models.Min("id"), hi=models.Max("id")
    )
    return ids["lo"], ids["hi"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=1_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--usage", type=int, default=10_000_000)
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    if SQLITE:
        with connection.cursor() as cur:
            cur.execute("PRAGMA journal_mode=MEMORY")  # WAL would persist in the file
            cur.execute("PRAGMA synchronous=OFF")
            cur.execute("PRAGMA cache_size=-400000")
    if Organization.objects.filter(slug__startswith="bigdb-").exists():
        print("bigdb: already filled", flush=True)
        return 0
    insert(Organization, 1, args.orgs, {"name": text("i", "bigdb "), "slug": text("i", "bigdb-")})
    org_lo, _ = id_range(Organization, "slug", "bigdb-")
    insert(APIKey, 1, args.keys, {
        "organization": f"{org_lo} + (i % {args.orgs})", "name": text("i", "key "),
        "prefix": text("i", "jinf_big", 8), "digest": text("i", "", 64),
    })  # fmt: skip
    key_lo, _ = id_range(APIKey, "prefix", "jinf_big")
    print(
        f"bigdb: {args.orgs} organizations, {args.keys} keys ({time.monotonic() - t0:.0f} s)",
        flush=True,
    )
    usage = {
        "request_id": text("i", "req_big_", 12), "organization": f"{org_lo} + (i % {args.orgs})",
        "api_key": f"{key_lo} + (i % {args.keys})", "endpoint": "'chat'", "model": "'bench'",
        "input_tokens": "12", "output_tokens": "100", "cost_pico": "1000", "latency_ms": "5.0",
        "created_at": ago("i"),
    }  # fmt: skip
    for first in range(1, args.usage + 1, BATCH):
        insert(UsageRecord, first, min(first + BATCH - 1, args.usage), usage)
        print(
            f"bigdb: {min(first + BATCH - 1, args.usage):,} usage rows ({time.monotonic() - t0:.0f} s)",
            flush=True,
        )
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    print(f"bigdb: done in {time.monotonic() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
