"""Reconciliation into invoices: totals to the pico on both kinds of plan, the same
invoices however often, however ordered and however concurrently it runs, the period
close, and late usage carried to the next invoice as an adjustment."""

import random
import threading
from datetime import timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.invoices.reconcile import reconcile
from billing.invoices.review import invoice_finalize
from billing.models import CheckStatus, Invoice, InvoiceLine, InvoiceStatus, LineKind, UsageRollup
from billing.tasks import invoices_reconcile
from tests.billing.invoices.helpers import (
    NOV,
    NOW,
    OCT,
    event,
    flat_plan,
    make_org,
    put_on,
    rolled_back,
    write,
)

PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

usage = st.lists(
    st.tuples(
        st.integers(0, 31 * 86400 - 1),  # seconds into October
        st.sampled_from(["gpt-x", "claude-y", "llama-z"]),
        st.integers(0, 5 * 10**12),  # up to $5 a request
    ),
    min_size=0,
    max_size=30,
)


def _events(org, rows, *, prepaid=True):
    return [
        event(org, at=OCT + timedelta(seconds=s), model=m, cost=c, prepaid=prepaid)
        for s, m, c in rows
    ]


def _lines(invoice):
    return list(
        invoice.lines.values_list("kind", "model", "quantity", "amount_pico", "covers_period")
    )


def _assert_invariant(invoice):
    """invoice = Σ lines, and its usage lines = Σ usage records (the stored check)."""
    assert invoice.total_pico == sum(li.amount_pico for li in invoice.lines.all())
    assert invoice.check_status == CheckStatus.OK, invoice.check_details


@pytest.mark.django_db
@PROPERTY
@given(rows=usage)
def test_prepaid_invoice_is_the_sum_of_usage_to_the_pico(rows):
    with rolled_back():
        org = make_org()
        write(_events(org, rows))
        reconcile(period="2026-10", now=NOW)
        invoices = Invoice.objects.filter(organization=org)
        if not rows:
            assert not invoices.exists()  # no usage, no flat plan: no invoice
            return
        invoice = invoices.get()
        total = sum(c for _, _, c in rows)
        assert invoice.total_pico == total
        assert invoice.paid_from_credit_pico == total  # already debited when recorded
        assert invoice.amount_due_pico == 0
        by_model = {}
        for _, m, c in rows:
            by_model[m] = by_model.get(m, 0) + c
        usage_lines = {li.model: li.amount_pico for li in invoice.lines.filter(kind=LineKind.USAGE)}
        assert usage_lines == by_model
        _assert_invariant(invoice)


@pytest.mark.django_db
@PROPERTY
@given(
    rows=usage,
    fee=st.integers(0, 100 * 10**12),
    included=st.integers(0, 50 * 10**12),
)
def test_flat_invoice_is_fee_plus_usage_beyond_included(rows, fee, included):
    with rolled_back():
        org = make_org()
        put_on(org, flat_plan("flat-x", fee=fee, included=included), OCT - timedelta(days=40))
        write(_events(org, rows, prepaid=False))
        reconcile(period="2026-10", now=NOW)
        invoice = Invoice.objects.get(organization=org)  # a flat plan invoices even at 0 usage
        used = sum(c for _, _, c in rows)
        assert invoice.total_pico == fee + max(0, used - included)
        assert invoice.paid_from_credit_pico == 0
        kinds = [li.kind for li in invoice.lines.all()]
        assert kinds.count(LineKind.PLAN_FEE) == (1 if fee else 0)
        assert kinds.count(LineKind.INCLUDED) == (1 if min(used, included) else 0)
        _assert_invariant(invoice)


@pytest.mark.django_db
@PROPERTY
@given(rows=usage, seed=st.integers(0, 2**32), split=st.integers(1, 5))
def test_permuted_usage_gives_the_same_invoice(rows, seed, split):
    """The same usage, in another order and other batches, for a twin organization."""
    with rolled_back():
        a, b = make_org(), make_org()
        write(_events(a, rows))
        shuffled = list(rows)
        random.Random(seed).shuffle(shuffled)
        events = _events(b, shuffled)
        for i in range(0, len(events), split):
            write(events[i : i + split])
            reconcile(period="2026-10", now=NOW - timedelta(days=20))  # drafts meanwhile
        reconcile(period="2026-10", now=NOW)
        inv = {o: Invoice.objects.filter(organization=o).first() for o in (a, b)}
        if inv[a] is None:
            assert inv[b] is None
            return
        assert (inv[a].total_pico, inv[a].paid_from_credit_pico, inv[a].status) == (
            inv[b].total_pico,
            inv[b].paid_from_credit_pico,
            inv[b].status,
        )
        assert _lines(inv[a]) == _lines(inv[b])


@pytest.mark.django_db
def test_reconcile_twice_gives_the_same_invoices_and_the_second_run_writes_nothing():
    orgs = [make_org() for _ in range(3)]
    write(
        [event(o, at=OCT + timedelta(days=i, hours=1), cost=1000 + i) for i, o in enumerate(orgs)]
    )
    first = reconcile(period="2026-10", now=NOW)
    snapshot = [(i.pk, i.total_pico, i.status, _lines(i)) for i in Invoice.objects.order_by("pk")]
    line_ids = set(InvoiceLine.objects.values_list("pk", flat=True))
    assert len(first) == 3
    assert reconcile(period="2026-10", now=NOW) == []  # unchanged inputs: skipped
    invoices_reconcile.delay()  # the beat's task, queued twice (eager here)
    invoices_reconcile.delay()
    assert [
        (i.pk, i.total_pico, i.status, _lines(i)) for i in Invoice.objects.order_by("pk")
    ] == snapshot
    assert set(InvoiceLine.objects.values_list("pk", flat=True)) == line_ids  # not rewritten
    # New usage: only that organization's invoice is rewritten.
    write([event(orgs[0], at=OCT + timedelta(days=9), cost=5)])
    again = reconcile(period="2026-10", now=NOW)
    assert [i.organization_id for i in again] == [orgs[0].pk]
    assert Invoice.objects.get(organization=orgs[0]).total_pico == 1005


@pytest.mark.django_db
def test_period_close_moves_drafts_to_review_only_after_the_grace(settings):
    settings.BILLING_CLOSE_GRACE_S = 3600
    org = make_org()
    write([event(org, at=OCT + timedelta(days=3), cost=10)])
    reconcile(period="2026-10", now=NOV + timedelta(minutes=59))
    assert Invoice.objects.get().status == InvoiceStatus.DRAFT
    reconcile(period="2026-10", now=NOV + timedelta(minutes=60))
    assert Invoice.objects.get().status == InvoiceStatus.IN_REVIEW
    # The task of the beat: the previous and current period of now.
    from billing.invoices.reconcile import periods_close

    write([event(org, at=NOV + timedelta(days=2), cost=10)])
    reconcile(now=NOV + timedelta(days=3))
    assert Invoice.objects.get(period="2026-11").status == InvoiceStatus.DRAFT
    assert periods_close(now=NOV + timedelta(days=3)) == []
    closed = periods_close(now=NOV + timedelta(days=31))
    assert [i.period for i in closed] == ["2026-11"]
    assert Invoice.objects.get(period="2026-11").status == InvoiceStatus.IN_REVIEW


@pytest.mark.django_db
@PROPERTY
@given(
    on_time=st.lists(st.integers(1, 10**9), min_size=1, max_size=5),
    late=st.lists(st.integers(1, 10**9), min_size=1, max_size=5),
    later=st.lists(st.integers(1, 10**9), max_size=3),
    prepaid=st.booleans(),
)
def test_late_usage_lands_on_the_next_invoice_as_an_adjustment(on_time, late, later, prepaid):
    with rolled_back():
        org = make_org()
        if not prepaid:
            put_on(org, flat_plan("flat-late", fee=10**12, included=0), OCT - timedelta(days=1))
        write(
            [
                event(org, at=OCT + timedelta(hours=i), cost=c, prepaid=prepaid)
                for i, c in enumerate(on_time)
            ]
        )
        reconcile(period="2026-10", now=NOW)
        october = Invoice.objects.get(period="2026-10")
        invoice_finalize(invoice=october, actor=None, now=NOW)
        october.refresh_from_db()
        frozen = (october.total_pico, _lines(october))
        # Usage of October recorded after its invoice was finalized.
        write(
            [
                event(org, at=OCT + timedelta(days=20, hours=i), cost=c, prepaid=prepaid)
                for i, c in enumerate(late)
            ]
        )
        reconcile(now=NOW)  # the beat's run: October and November
        october.refresh_from_db()
        assert (october.total_pico, _lines(october)) == frozen  # frozen
        november = Invoice.objects.get(period="2026-11")
        adjustments = list(november.lines.filter(kind=LineKind.ADJUSTMENT))
        assert [(a.covers_period, a.amount_pico) for a in adjustments] == [("2026-10", sum(late))]
        assert november.paid_from_credit_pico == (sum(late) if prepaid else 0)
        assert reconcile(now=NOW) == []  # carried once, not again
        if later:
            # November is finalized too; still later October usage goes to December.
            invoice_finalize(invoice=november, actor=None, now=NOW + timedelta(days=20))
            write([event(org, at=OCT + timedelta(days=30), cost=c, prepaid=prepaid) for c in later])
            reconcile(now=NOW + timedelta(days=20))
            december = Invoice.objects.get(period="2026-12")
            assert [
                (a.covers_period, a.amount_pico)
                for a in december.lines.filter(kind=LineKind.ADJUSTMENT)
            ] == [("2026-10", sum(later))]
            november.refresh_from_db()
            assert november.lines.filter(kind=LineKind.ADJUSTMENT).get().amount_pico == sum(late)


@pytest.mark.django_db(transaction=True)
def test_concurrent_reconciles_make_one_invoice_each():
    """Two runs at once (the beat's task queued twice, Lago PR 1988) on PostgreSQL: the
    unique (organization, period) and the row locks leave one invoice per organization,
    with the figures a single run gives."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL; on SQLite the runs are sequential")
    orgs = [make_org() for _ in range(30)]
    write(
        [
            event(o, at=OCT + timedelta(days=i % 28, hours=2), cost=10**9 + i)
            for i, o in enumerate(orgs)
        ]
    )
    errors = []
    barrier = threading.Barrier(3)

    def run():
        try:
            barrier.wait()
            reconcile(period="2026-10", now=NOW)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert Invoice.objects.count() == 30
    for i, o in enumerate(orgs):
        inv = Invoice.objects.get(organization=o)
        assert inv.total_pico == 10**9 + i
        assert inv.lines.count() == 1
        _assert_invariant(inv)


@pytest.mark.django_db
def test_a_drifted_rollup_makes_the_check_say_so():
    org = make_org()
    write([event(org, at=OCT + timedelta(days=1), cost=500)])
    reconcile(period="2026-10", now=NOW)
    UsageRollup.objects.update(cost_pico=400)  # drift without a mark
    reconcile(period="2026-10", now=NOW)
    inv = Invoice.objects.get()
    assert inv.check_status == CheckStatus.MISMATCH
    assert inv.check_details["raw_pico"] == "500"
    assert inv.check_details["rollups_pico"] == "400"
    assert inv.check_details["problems"]


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_queued_twice_or_run_at_once_makes_one_invoice():
    """Lago PR 1988: a queued and a retried run of the job. Sequentially on SQLite, two
    workers' runs at once on PostgreSQL."""
    from django.utils import timezone

    from billing.periods import period_bounds, period_of, previous_period

    last = previous_period(period_of(timezone.now()))
    start, _ = period_bounds(last)
    orgs = [make_org() for _ in range(5)]
    write(
        [
            event(o, at=start + timedelta(days=i, hours=1), cost=10**6 * (i + 1))
            for i, o in enumerate(orgs)
        ]
    )
    invoices_reconcile.delay()
    invoices_reconcile.delay()
    if connection.vendor == "postgresql":
        write([event(o, at=start + timedelta(days=9), cost=1) for o in orgs])
        errors = []
        barrier = threading.Barrier(2)

        def run():
            try:
                barrier.wait()
                invoices_reconcile.apply()
            except Exception as err:  # pragma: no cover - reported below
                errors.append(err)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
    extra = 1 if connection.vendor == "postgresql" else 0
    assert Invoice.objects.count() == 5
    for i, o in enumerate(orgs):
        inv = Invoice.objects.get(organization=o, period=last)
        assert inv.total_pico == 10**6 * (i + 1) + extra
        _assert_invariant(inv)
