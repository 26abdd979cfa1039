"""Reconciling a month of 10,000,000 usage rows across 10,000 organizations on PostgreSQL.

    python bench/reconcile.py [--rows 10000000] [--orgs 10000] [--flat-every 10]

The database (jinf_bench_reconcile, created and migrated when missing) is filled once by
the database itself (`INSERT … SELECT` over generate_series, secondary indexes dropped
during the fill and rebuilt after) and reused while it holds that many rows: October 2026,
every organization on the prepaid default plan except every tenth on a flat plan, each
prepaid organization's usage debited by one ledger entry its records point at, as the
writer does. Each run then forgets the rollups and invoices of October, marks every
(organization, day) dirty as the writer would, and times:

1. `reconcile(period="2026-10")`: the rollups of 310,000 days recomputed from the rows,
   then 10,000 invoices created, their lines written and each checked against the
   rollups, the raw rows and the ledger;
2. the same call again, with nothing changed: it must take a small fraction of (1).

Target (issue 11): (1) within 5 minutes on this machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DB_URL = "postgres://postgres@127.0.0.1:5432/jinf_bench_reconcile"
PERIOD = "2026-10"
SECONDS = 31 * 86400


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": ""}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True, timeout=600,
    )  # fmt: skip


def say(t0: float, text: str) -> None:
    print(f"[{time.monotonic() - t0:7.1f} s] {text}", flush=True)


def fill(rows: int, orgs: int, flat_every: int, t0: float) -> None:
    from django.db import connection, transaction

    from accounts.models import Organization
    from billing.models import CreditLedgerEntry, Plan, PlanChange, PlanKind, UsageRecord

    usage = UsageRecord._meta.db_table
    if UsageRecord.objects.filter(request_id="rb_1").exists():
        with connection.cursor() as cur:
            cur.execute(f"SELECT count(*) FROM {usage}")
            have = cur.fetchone()[0]
        if have == rows:
            say(t0, f"reusing the filled database ({have:,} usage rows)")
            return
        raise SystemExit(
            f"jinf_bench_reconcile holds {have:,} usage rows, not {rows:,}; drop it "
            "(dropdb -h 127.0.0.1 -U postgres jinf_bench_reconcile) and run again."
        )
    org_table = Organization._meta.db_table
    ledger = CreditLedgerEntry._meta.db_table
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {org_table} (name, slug, created_at, credit_balance_pico, "
            "pause_keys_on_spike, log_bodies, body_retention_days) "
            "SELECT 'rb ' || i, 'rb-' || i, '2026-01-01', 0, false, false, 30 "
            f"FROM generate_series(1, {orgs}) AS s(i)"
        )
        cur.execute(f"SELECT min(id) FROM {org_table} WHERE slug LIKE 'rb-%%'")
        org_lo = cur.fetchone()[0]
        plan = Plan.objects.create(
            name="bench-flat",
            kind=PlanKind.FLAT,
            monthly_fee_pico=20 * 10**12,
            included_pico=5 * 10**9,
            overage="bill",
        )
        flat_ids = list(range(org_lo, org_lo + orgs, flat_every))
        PlanChange.objects.bulk_create(
            [
                PlanChange(organization_id=o, plan=plan, effective_at="2026-01-01T00:00:00Z")
                for o in flat_ids
            ]
        )
        # One usage debit per prepaid organization for the month (amounts set after).
        cur.execute(
            f"INSERT INTO {ledger} (organization_id, kind, amount_pico, reason, created_at, "
            "period, external_id) SELECT id, 'usage', 0, 'Usage', '2026-10-31', %s, '' "
            f"FROM {org_table} WHERE slug LIKE 'rb-%%' AND (id - %s) %% %s <> 0",
            [PERIOD, org_lo, flat_every],
        )
        cur.execute(
            "CREATE TABLE IF NOT EXISTS rb_entry AS SELECT organization_id - %s AS idx, id "
            f"FROM {ledger} WHERE kind = 'usage' AND period = %s",
            [org_lo, PERIOD],
        )
    say(t0, f"{orgs:,} organizations, {len(flat_ids):,} on a flat plan")
    with connection.cursor() as cur:
        cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            [usage],
        )
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f'DROP INDEX IF EXISTS "{name}"')
    say(t0, f"dropped {len(indexes)} secondary indexes for the fill")
    batch = 1_000_000
    for first in range(1, rows + 1, batch):
        last = min(first + batch - 1, rows)
        with transaction.atomic(), connection.cursor() as cur:
            # Rows in time order, organizations interleaved, as a gateway writes them.
            cur.execute(
                f"INSERT INTO {usage} (request_id, organization_id, api_key_id, endpoint, "
                "model, provider, upstream_model, deployment_id, status, http_status, streamed, "
                "input_tokens, output_tokens, cached_tokens, cache_write_tokens, "
                "tokens_estimated, cost_pico, latency_ms, ttft_ms, attempts, error, code, "
                "flagged, created_at, ledger_entry_id) "
                "SELECT 'rb_' || i, %s + (i %% %s), NULL, 'chat', 'model-' || (i %% 3), 'bench', "
                "'', NULL, CASE WHEN i %% 50 = 0 THEN 'upstream_error' ELSE 'ok' END, 200, false, "
                "20 + i %% 100, 50 + i %% 200, 0, 0, false, 1000 + (i %% 13) * 250, 5.0, NULL, 1, "
                "'', '', false, "
                "timestamptz '2026-10-01 00:00:00+00' + (((i::bigint * %s) / %s) * interval '1 second'), "
                "e.id FROM generate_series(%s, %s) AS s(i) "
                "LEFT JOIN rb_entry e ON e.idx = i %% %s",
                [org_lo, orgs, SECONDS, rows + 1, first, last, orgs],
            )
        say(t0, f"{last:,} usage rows")
    with connection.cursor() as cur:
        for name, definition in indexes:
            cur.execute(definition)
            say(t0, f"index {name} rebuilt")
        cur.execute(
            f"UPDATE {ledger} l SET amount_pico = -t.s FROM (SELECT ledger_entry_id, "
            f"SUM(cost_pico) s FROM {usage} WHERE ledger_entry_id IS NOT NULL "
            "GROUP BY ledger_entry_id) t WHERE l.id = t.ledger_entry_id"
        )
        cur.execute("DROP TABLE rb_entry")
        cur.execute("VACUUM ANALYZE")
    say(t0, "filled")


def reset(t0: float) -> int:
    """Forgets October's rollups and invoices and marks every (organization, day) of it
    dirty, as the writer would have."""
    from django.db import connection, transaction

    from billing.models import Invoice, InvoiceLine, RollupDirty, UsageRecord, UsageRollup

    with transaction.atomic(), connection.cursor() as cur:
        InvoiceLine.objects.filter(invoice__period=PERIOD).delete()
        Invoice.objects.filter(period=PERIOD).delete()
        cur.execute(f"TRUNCATE {UsageRollup._meta.db_table}")
        cur.execute(f"TRUNCATE {RollupDirty._meta.db_table}")
        cur.execute(
            f"INSERT INTO {RollupDirty._meta.db_table} (organization_id, day, marks) "
            f"SELECT DISTINCT organization_id, (created_at AT TIME ZONE 'UTC')::date, 1 "
            f"FROM {UsageRecord._meta.db_table}"
        )
        marks = RollupDirty.objects.count()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    say(t0, f"reset: {marks:,} (organization, day) marks")
    return marks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--flat-every", type=int, default=10)
    parser.add_argument("--url", default=DB_URL)
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    ensure_database(args.url)
    os.environ["DATABASE_URL"] = args.url
    os.environ["REDIS_URL"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from billing.invoices.reconcile import reconcile
    from billing.models import CheckStatus, Invoice

    fill(args.rows, args.orgs, args.flat_every, t0)
    reset(t0)
    start = time.monotonic()
    first = reconcile(period=PERIOD)
    full = time.monotonic() - start
    ok = Invoice.objects.filter(period=PERIOD, check_status=CheckStatus.OK).count()
    say(t0, f"reconcile: {len(first):,} invoices in {full:.1f} s ({ok:,} reconcile)")
    start = time.monotonic()
    again = reconcile(period=PERIOD)
    rerun = time.monotonic() - start
    say(t0, f"re-run with nothing changed: {len(again):,} invoices touched in {rerun:.2f} s")
    print(
        f"RESULT rows={args.rows} orgs={args.orgs} reconcile_s={full:.1f} "
        f"rerun_s={rerun:.2f} ratio={rerun / full:.3f} invoices={len(first)} ok={ok}",
        flush=True,
    )
    return 0 if ok == len(first) and not again else 1


if __name__ == "__main__":
    sys.exit(main())
