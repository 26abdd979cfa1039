"""A real Celery worker and beat over Redis close a period (CI's second pass): usage of
the previous month, the beat's short intervals, and the invoice reaches in_review with
the right total without anyone calling reconcile."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from billing.models import CheckStatus, Invoice, InvoiceStatus
from billing.periods import period_bounds, period_of, previous_period
from tests.billing.invoices.helpers import event, make_org, write
from tests.multiproc import needs_shared_services
from tests.processes import start_beat, start_worker, stop_worker, wait_for


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_worker_and_beat_close_the_previous_period(tmp_path, monkeypatch):
    needs_shared_services()
    from platform_site.celery import app

    last = previous_period(period_of(timezone.now()))
    start, _ = period_bounds(last)
    org = make_org()
    costs = [10**9 + i for i in range(7)]
    write([event(org, at=start + timedelta(days=i, hours=5), cost=c) for i, c in enumerate(costs)])
    for name, value in {
        "BILLING_ROLLUP_EVERY_S": "1",
        "BILLING_RECONCILE_EVERY_S": "2",
        "BILLING_CLOSE_EVERY_S": "2",
        "BILLING_CLOSE_GRACE_S": "0",
        "DB_CONN_MAX_AGE": "0",
    }.items():
        monkeypatch.setenv(name, value)
    app.control.purge()
    worker = start_worker(tmp_path / "worker.log")
    try:
        beat = start_beat(tmp_path / "beat.log", tmp_path / "beat-schedule")
        try:

            def closed() -> bool:
                inv = Invoice.objects.filter(organization=org, period=last).first()
                return inv is not None and inv.status == InvoiceStatus.IN_REVIEW

            done = wait_for(closed, timeout_s=90, interval_s=0.5)
        finally:
            stop_worker(beat)
    finally:
        stop_worker(worker)
        connection.close()
    assert done, f"worker log:\n{worker.log()[-3000:]}\nbeat log:\n{beat.log()[-2000:]}"
    inv = Invoice.objects.get(organization=org, period=last)
    assert inv.total_pico == sum(costs)
    assert inv.check_status == CheckStatus.OK
    assert Invoice.objects.filter(organization=org, period=last).count() == 1
    assert "billing.tasks.invoices_reconcile" in beat.log()


def test_every_beat_entry_names_a_task_the_worker_knows():
    import billing.tasks  # noqa: F401  what the worker's autodiscovery imports
    from platform_site.celery import app

    schedule = app.conf.beat_schedule
    for name in ("billing-usage-rollup", "billing-invoices-reconcile", "billing-periods-close"):
        assert name in schedule
    unknown = {n: e["task"] for n, e in schedule.items() if e["task"] not in app.tasks}
    assert not unknown
