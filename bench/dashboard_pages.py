"""How fast the portal's usage page and request log render on 1,000,000 usage rows of one
organization (issue 12: each within a second), with Django's test Client on PostgreSQL.

    python -m bench.dashboard_pages            # builds jinf_bench_pages (~1-2 min), then times
    python -m bench.dashboard_pages --reuse    # times again on the database already built

The rows are written by PostgreSQL itself (INSERT … SELECT over generate_series): 20 keys,
4 models, one refusal in 50, pairs of records sharing a timestamp, spread over 29 days; the
rollups of those days are rebuilt by billing.rollups.rollups_rebuild, as the task would keep
them (hourly and daily rows alike). Each page is fetched once to warm up, then timed --repeat times; the figures printed
are the median and the worst, with the page's query count."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
DB_URL = "postgres://postgres@127.0.0.1:5432/jinf_bench_pages"
TARGET_MS = 1000.0


def _psql(url: str, sql: str) -> str:
    parts = urlsplit(url)
    cmd = ["psql", "-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432),
           "-U", parts.username or "postgres", "-d", "postgres", "-qAt", "-v", "ON_ERROR_STOP=1",
           "-c", sql]  # fmt: skip
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120).stdout


def _database_exists(url: str) -> bool:
    name = urlsplit(url).path.lstrip("/")
    return _psql(url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'").strip() == "1"


def _recreate(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    _psql(url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _psql(url, f"CREATE DATABASE {name}")


def seed(rows: int, neighbour_rows: int) -> None:
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from accounts.services import api_key_create, organization_create
    from bench.bigdb import insert
    from billing.models import UsageRecord
    from billing.rollups import rollups_rebuild

    t0 = time.monotonic()
    call_command("migrate", verbosity=0)
    owner = User.objects.create_user(email="bench@pages.example", password="bench pages 123")
    org = organization_create(name="Bench pages", owner=owner, slug="bench-pages")
    keys = [
        api_key_create(organization=org, name=f"key {n}", created_by=owner).key.pk
        for n in range(20)
    ]
    array = "ARRAY[" + ",".join(map(str, keys)) + "]"
    usage = {
        "request_id": "'req_bp_' || lpad(i::text, 8, '0')",
        "organization": str(org.pk),
        "api_key": f"({array})[1 + i % 20]",
        "endpoint": "'chat.completions'",
        "model": "(ARRAY['gpt-4o-mini','gpt-4o','claude-sonnet','llama-3-70b'])[1 + i % 4]",
        "provider": "'openai-main'",
        "upstream_model": "'upstream-model'",
        "status": "CASE WHEN i % 50 = 0 THEN 'refused' WHEN i % 97 = 0 THEN 'upstream_error' "
        "ELSE 'ok' END",
        "http_status": "CASE WHEN i % 50 = 0 THEN 402 WHEN i % 97 = 0 THEN 502 ELSE 200 END",
        "code": "CASE WHEN i % 50 = 0 THEN 'insufficient_credits' ELSE '' END",
        "streamed": "(i % 3 = 0)",
        "input_tokens": "100 + i % 900",
        "output_tokens": "20 + i % 300",
        "cost_pico": "(100 + i % 900) * 150000 + (20 + i % 300) * 600000",
        "latency_ms": "50 + (i % 2000)",
        "ttft_ms": "CASE WHEN i % 3 = 0 THEN 20 + (i % 400) ELSE NULL END",
        # Two records per timestamp, 5 s apart pairwise: 1,000,000 rows over ~29 days.
        "created_at": "date_trunc('second', now()) - ((i / 2) * 5) * interval '1 second'",
    }
    step = 250_000
    for first in range(1, rows + 1, step):
        insert(UsageRecord, first, min(first + step - 1, rows), usage)
    # Another organization's traffic in the same instants, so the planner has to pick the
    # (organization, -created_at) index rather than created_at alone.
    other = organization_create(name="Bench neighbour", owner=owner, slug="bench-neighbour")
    neighbour = {**usage, "organization": str(other.pk), "api_key": "NULL",
                 "request_id": "'req_bn_' || lpad(i::text, 8, '0')"}  # fmt: skip
    for first in range(1, neighbour_rows + 1, step):
        insert(UsageRecord, first, min(first + step - 1, neighbour_rows), neighbour)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    t1 = time.monotonic()
    days = rollups_rebuild()
    print(
        f"seeded {rows:,} + {neighbour_rows:,} usage rows in {t1 - t0:.0f} s, "
        f"{days} rollup (organization, day)s in "
        f"{time.monotonic() - t1:.0f} s",
        flush=True,
    )


def timed(client, url: str, repeat: int) -> tuple[float, float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = client.get(url)  # warm: templates compiled, session loaded
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            t0 = time.perf_counter()
            response = client.get(url)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times), len(queries), len(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=os.environ.get("BENCH_PAGES_DB", DB_URL))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--neighbour-rows", type=int, default=250_000, help="another organization's rows"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reuse", action="store_true", help="keep the database if it exists")
    args = parser.parse_args(argv)

    reuse = args.reuse and _database_exists(args.db)
    if not reuse:
        _recreate(args.db)
    os.environ["DATABASE_URL"] = args.db
    os.environ.pop("REDIS_URL", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "platform_site.settings"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    from accounts.models import Organization, User
    from billing.models import UsageRecord
    from dashboard.request_log import Cursor

    setup_test_environment()  # the test Client's host, in-memory mail
    settings.DEBUG = False
    if not reuse:
        seed(args.rows, args.neighbour_rows)
    owner = User.objects.get(email="bench@pages.example")
    org = Organization.objects.get(slug="bench-pages")
    slug = org.slug
    total = UsageRecord.objects.filter(organization=org).count()
    client = Client()
    client.force_login(owner)

    deep = (
        UsageRecord.objects.filter(organization=org)
        .order_by("-created_at", "-id")
        .only("id", "created_at")[total * 9 // 10]
    )
    day = (deep.created_at).date().isoformat()
    key_id = UsageRecord.objects.filter(organization=org).values_list("api_key_id", flat=True)[0]
    log = reverse("requests", args=[slug])
    pages = []
    try:
        usage = reverse("usage", args=[slug])
        pages.append(("usage page (default range)", usage))
    except NoReverseMatch:
        usage = None
        print("usage page: no URL named 'usage' in this tree; not timed", flush=True)
    if usage is not None:
        # Per hour (a tree without hourly buckets shows these per day, and says so).
        today = timezone.now().date()  # the rows end now
        month = f"start={today - timedelta(days=30)}&end={today}"
        pages += [
            ("usage page, 2 days per hour", f"{usage}?start={today - timedelta(days=1)}"
             f"&end={today}&bucket=hour"),
            ("usage page, 31 days per hour by key", f"{usage}?{month}&split=key&bucket=hour"),
        ]  # fmt: skip
    pages += [
        ("request log, first page", log),
        ("request log, model + status filter", f"{log}?model=claude-sonnet&status=ok"),
        ("request log, refusals only", f"{log}?status=refused"),
        ("request log, one key", f"{log}?key={key_id}"),
        ("request log, one day 26 days back", f"{log}?start={day}&end={day}"),
        (f"request log, deep page (row {total * 9 // 10:,})", f"{log}?before={Cursor.of(deep)}"),
        ("request log, newer from the deep page", f"{log}?after={Cursor.of(deep)}"),
        ("request detail", reverse("request_detail", args=[slug, deep.request_id])),
    ]
    everyone = UsageRecord.objects.count()
    print(
        f"{total:,} usage rows of the organization timed ({everyone:,} in the table); "
        f"{args.repeat} timed runs each\n"
    )
    print(f"| page | median ms | worst ms | queries | bytes | within {TARGET_MS:.0f} ms |")
    print("|---|---:|---:|---:|---:|---|")
    pages.append(
        ("CSV export, newest 100,000 rows (not a target)", reverse("requests_csv", args=[slug]))
    )
    if usage is not None:
        csv = reverse("usage_csv", args=[slug])
        pages.append(
            ("usage CSV, 31 days per hour by model (not a target)", f"{csv}?{month}&bucket=hour")
        )
    misses = 0
    for name, url in pages:
        median, worst, queries, size = timed(client, url, args.repeat)
        ok = worst < TARGET_MS
        verdict = "—" if "not a target" in name else "PASS" if ok else "MISS"
        misses += verdict == "MISS"
        print(f"| {name} | {median:.0f} | {worst:.0f} | {queries} | {size:,} | {verdict} |",
              flush=True)  # fmt: skip
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
