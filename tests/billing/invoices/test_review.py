"""The admin's review actions: finalize (gapless numbers, credit applied, refused when the
check does not reconcile), mark paid, void (credit back exactly once), credit notes,
credit adjustments; each audited and safe to run twice."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Organization
from billing.invoices.errors import BillingError
from billing.invoices.reconcile import reconcile
from billing.invoices.review import (
    credit_note_issue,
    credits_adjust,
    invoice_finalize,
    invoice_mark_paid,
    invoice_void,
)
from billing.models import (
    BillingAudit,
    CreditLedgerEntry,
    Invoice,
    InvoiceStatus,
    LineKind,
    UsageRollup,
)
from billing.services import credits_grant, ledger_balance
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
from tests.conftest import make_user

PROPERTY = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def balance(org) -> int:
    return Organization.objects.get(pk=org.pk).credit_balance_pico


@pytest.mark.django_db
@PROPERTY
@given(
    grant=st.integers(0, 10**14),
    costs=st.lists(st.integers(0, 10**12), max_size=10),
    flat_fee=st.one_of(st.none(), st.integers(1, 10**13)),
    finalize=st.booleans(),
    voids=st.integers(1, 3),
)
def test_void_gives_back_exactly_what_the_invoice_consumed_once(
    grant, costs, flat_fee, finalize, voids
):
    """Lago PR 3703: a void plus re-credit that doubled a wallet. The balance after the
    void is the balance before the usage, however many times the void runs."""
    with rolled_back():
        org = make_org()
        if flat_fee is not None:
            put_on(org, flat_plan("flat-v", fee=flat_fee, included=0), OCT - timedelta(days=3))
        if grant:
            credits_grant(organization=org, amount_pico=grant, reason="start")
        before_usage = balance(org)
        prepaid = flat_fee is None
        write(
            [
                event(org, at=OCT + timedelta(hours=i), cost=c, prepaid=prepaid)
                for i, c in enumerate(costs)
            ]
        )
        reconcile(period="2026-10", now=NOW)
        invoice = Invoice.objects.filter(organization=org).first()
        if invoice is None:
            assert not costs and prepaid
            return
        if finalize:
            invoice = invoice_finalize(invoice=invoice, actor=None, now=NOW)
            if not prepaid:  # the fee (+ usage) paid from credit as far as it goes
                applied = min(grant, flat_fee + sum(costs))
                assert balance(org) == before_usage - applied
        for _ in range(voids):
            invoice_void(invoice=invoice, actor=None, reason="customer dispute")
        assert balance(org) == before_usage
        assert balance(org) == ledger_balance(organization=org)
        assert CreditLedgerEntry.objects.filter(external_id=f"void:{invoice.pk}").count() <= 1
        assert BillingAudit.objects.filter(action="invoice_void").count() == 1
        assert Invoice.objects.get(pk=invoice.pk).status == InvoiceStatus.VOID


@pytest.mark.django_db
def test_finalize_numbers_gaplessly_and_a_refused_one_takes_no_number():
    orgs = [make_org() for _ in range(5)]
    for i, o in enumerate(orgs):
        write([event(o, at=OCT + timedelta(days=i), cost=100 + i)])
    reconcile(period="2026-10", now=NOW)
    # The third one's rollup drifted: its check does not reconcile.
    UsageRollup.objects.filter(organization=orgs[2]).update(cost_pico=1)
    reconcile(period="2026-10", now=NOW)
    numbers = []
    for o in orgs:
        inv = Invoice.objects.get(organization=o)
        try:
            numbers.append(invoice_finalize(invoice=inv, actor=None, now=NOW).number)
        except BillingError as err:
            assert o == orgs[2]
            assert "does not reconcile" in err.message
    assert numbers == ["INV-000001", "INV-000002", "INV-000003", "INV-000004"]
    assert Invoice.objects.get(organization=orgs[2]).number is None
    # Twice is once: same number, one audit row.
    again = invoice_finalize(invoice=Invoice.objects.get(organization=orgs[0]), actor=None, now=NOW)
    assert again.number == "INV-000001"
    assert BillingAudit.objects.filter(action="invoice_finalize").count() == 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_finalizations_share_no_number():
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")
    orgs = [make_org() for _ in range(8)]
    for i, o in enumerate(orgs):
        write([event(o, at=OCT + timedelta(days=i), cost=10 + i)])
    reconcile(period="2026-10", now=NOW)
    ids = list(Invoice.objects.values_list("pk", flat=True))
    errors = []

    def run(chunk):
        try:
            for pk in chunk:
                invoice_finalize(invoice=Invoice.objects.get(pk=pk), actor=None, now=NOW)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            connection.close()

    # Each invoice is finalized by two threads at once.
    threads = [
        threading.Thread(target=run, args=(ids,)),
        threading.Thread(target=run, args=(ids[::-1],)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == [f"INV-{n:06d}" for n in range(1, 9)]


@pytest.mark.django_db
def test_finalize_refuses_a_running_period_and_a_void_invoice():
    org = make_org()
    write([event(org, at=NOV + timedelta(days=1), cost=10)])
    reconcile(now=NOW)
    inv = Invoice.objects.get(period="2026-11")
    with pytest.raises(BillingError, match="still running"):
        invoice_finalize(invoice=inv, actor=None, now=NOW)
    invoice_void(invoice=inv, actor=None, reason="test account")
    with pytest.raises(BillingError, match="void"):
        invoice_finalize(invoice=inv, actor=None, now=NOW + timedelta(days=30))
    with pytest.raises(BillingError, match="reason"):
        invoice_void(invoice=inv, actor=None, reason="  ")


@pytest.mark.django_db
def test_flat_invoice_is_paid_from_credit_as_far_as_it_goes_then_marked_paid(settings, monkeypatch):
    org = make_org()
    staff = make_user("staff@example.com")
    put_on(org, flat_plan("pro", fee=30 * 10**12, included=0), OCT - timedelta(days=5))
    credits_grant(organization=org, amount_pico=10 * 10**12, reason="start")
    reconcile(period="2026-10", now=NOW)
    inv = Invoice.objects.get()
    assert inv.total_pico == 30 * 10**12
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    import billing.stripe.tasks as stripe_tasks

    pushed = []

    class Push:
        @staticmethod
        def delay(invoice_id):
            pushed.append(invoice_id)

    monkeypatch.setattr(stripe_tasks, "stripe_invoice_push", Push, raising=False)
    with pytest.raises(BillingError, match="finalize"):
        invoice_mark_paid(invoice=inv, actor=staff)
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        inv = invoice_finalize(invoice=inv, actor=staff, now=NOW)
    assert inv.status == InvoiceStatus.FINALIZED
    applied = inv.lines.get(kind=LineKind.CREDITS_APPLIED)
    assert applied.amount_pico == -10 * 10**12
    assert inv.total_pico == 20 * 10**12 == inv.amount_due_pico
    assert balance(org) == 0
    assert pushed == [inv.pk]  # due > 0 and Stripe on: pushed once committed
    inv = invoice_mark_paid(invoice=inv, actor=staff)
    assert (inv.status, inv.paid_via) == (InvoiceStatus.PAID, "manual")
    invoice_mark_paid(invoice=inv, actor=staff)
    audit = list(BillingAudit.objects.order_by("pk").values_list("action", "actor", "target"))
    assert audit == [
        ("invoice_finalize", staff.pk, f"invoice:{inv.pk}"),
        ("invoice_mark_paid", staff.pk, f"invoice:{inv.pk}"),
    ]
    first = BillingAudit.objects.order_by("pk").first()
    assert first.before["status"] == "in_review" and first.after["status"] == "finalized"


@pytest.mark.django_db
def test_prepaid_invoice_becomes_paid_from_credit_without_stripe(settings, monkeypatch):
    settings.STRIPE_SECRET_KEY = "sk_test_x"
    import billing.stripe.tasks as stripe_tasks

    monkeypatch.setattr(stripe_tasks, "stripe_invoice_push", None, raising=False)  # never called
    org = make_org()
    write([event(org, at=OCT + timedelta(days=1), cost=123)])
    reconcile(period="2026-10", now=NOW)
    inv = invoice_finalize(invoice=Invoice.objects.get(), actor=None, now=NOW)
    assert (inv.status, inv.paid_via, inv.amount_due_pico) == (InvoiceStatus.PAID, "credit", 0)
    assert not inv.lines.filter(kind=LineKind.CREDITS_APPLIED).exists()


@pytest.mark.django_db
def test_credit_note_is_a_negative_line_on_the_next_open_invoice():
    org = make_org()
    put_on(org, flat_plan("team", fee=50 * 10**12, included=0), OCT - timedelta(days=5))
    reconcile(period="2026-10", now=NOW)
    october = invoice_finalize(invoice=Invoice.objects.get(), actor=None, now=NOW)
    with pytest.raises(BillingError, match="reason"):
        credit_note_issue(invoice=october, actor=None, amount_pico=10, reason="")
    with pytest.raises(BillingError, match="At most"):
        credit_note_issue(
            invoice=october, actor=None, amount_pico=51 * 10**12, reason="too much", now=NOW
        )
    note = credit_note_issue(
        invoice=october, actor=None, amount_pico=5 * 10**12, reason="outage", now=NOW
    )
    november = Invoice.objects.get(period="2026-11")
    assert note.applied_to_id == november.pk
    line = november.lines.get(kind=LineKind.CREDIT_NOTE)
    assert line.amount_pico == -5 * 10**12
    reconcile(now=NOW)
    november.refresh_from_db()
    assert november.total_pico == 50 * 10**12 - 5 * 10**12  # fee − note, the note once
    with pytest.raises(BillingError, match="finalized or paid"):
        credit_note_issue(invoice=november, actor=None, amount_pico=1, reason="draft")
    assert BillingAudit.objects.filter(action="credit_note_issue").count() == 1


@pytest.mark.django_db
def test_credits_adjust_is_audited_needs_a_reason_and_a_resubmission_adjusts_once():
    org = make_org()
    staff = make_user("staff@example.com")
    with pytest.raises(BillingError, match="reason"):
        credits_adjust(organization=org, actor=staff, amount_pico=5, reason="")
    assert (
        credits_adjust(
            organization=org,
            actor=staff,
            amount_pico=7 * 10**12,
            reason="goodwill",
            idempotency_key="f1",
        )
        == 7 * 10**12
    )
    assert (
        credits_adjust(
            organization=org,
            actor=staff,
            amount_pico=7 * 10**12,
            reason="goodwill",
            idempotency_key="f1",
        )
        == 7 * 10**12
    )
    assert (
        credits_adjust(organization=org, actor=staff, amount_pico=-2 * 10**12, reason="correction")
        == 5 * 10**12
    )
    rows = list(BillingAudit.objects.order_by("pk"))
    assert [(r.action, r.actor_id, r.before, r.after["balance_pico"]) for r in rows] == [
        ("credits_adjust", staff.pk, {"balance_pico": "0"}, str(7 * 10**12)),
        ("credits_adjust", staff.pk, {"balance_pico": str(7 * 10**12)}, str(5 * 10**12)),
    ]
    assert balance(org) == ledger_balance(organization=org)
