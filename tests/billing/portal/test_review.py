"""The staff billing review: lists, drill-down, actions through the review services, the
audit log and CSV. Staff only; everyone else gets 404."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.money import PICO_PER_USD
from billing.invoices.reconcile import reconcile
from billing.models import (
    BillingAudit,
    CheckStatus,
    CreditNote,
    Invoice,
    InvoiceStatus,
    LineKind,
    UsageRecord,
)
from billing.periods import period_bounds, period_of, previous_period
from billing.portal import selectors
from billing.services import credits_grant
from tests.billing.portal.data import make_invoice, record_usage
from tests.conftest import make_user

REVIEW = "/staff/billing/"


def closed_period() -> str:
    """A period that ended well before now (and its grace)."""
    return previous_period(previous_period(period_of(timezone.now())))


@pytest.fixture
def staff(db):
    user = make_user("staff@jinf.example")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    return user


@pytest.fixture
def staff_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def reviewed(tenancy):
    """Org A's prepaid usage of a closed period over two models, reconciled into an
    invoice waiting for review; org B's too."""
    period = closed_period()
    start, _ = period_bounds(period)
    for org in (tenancy.org, tenancy.other_org):
        credits_grant(organization=org, amount_pico=10 * PICO_PER_USD, reason="seed")
    key = tenancy.owner_key.key
    record_usage(tenancy.org, at=start + timedelta(days=2), model="m-small", key=key, count=3,
                 cost_pico=2_000_000, refresh=False)  # fmt: skip
    record_usage(tenancy.org, at=start + timedelta(days=5), model="m-big", key=key, count=2,
                 cost_pico=7_000_000, refresh=False)  # fmt: skip
    record_usage(tenancy.other_org, at=start + timedelta(days=1), model="m-small", count=1)
    reconcile(period=period)
    invoice = Invoice.objects.get(organization=tenancy.org, period=period)
    assert invoice.status == InvoiceStatus.IN_REVIEW
    assert invoice.check_status == CheckStatus.OK
    return invoice


STAFF_GETS = [
    REVIEW,
    f"{REVIEW}audit/",
    f"{REVIEW}invoices.csv",
    f"{REVIEW}invoices/{{id}}/",
    f"{REVIEW}invoices/{{id}}/lines.csv",
    f"{REVIEW}invoices/{{id}}/lines/{{line}}/usage/",
]
STAFF_POSTS = ["finalize", "mark-paid", "void", "credit-note", "credits"]


@pytest.mark.parametrize("who", ["owner", "admin", "member", "outsider"])
def test_only_staff_reach_the_review(tenancy, reviewed, who):
    client = tenancy.client(getattr(tenancy, who))
    line = reviewed.lines.first()
    for path in STAFF_GETS:
        url = path.format(id=reviewed.pk, line=line.pk)
        assert client.get(url).status_code == 404, url
    for action in STAFF_POSTS:
        url = f"{REVIEW}invoices/{reviewed.pk}/{action}/"
        assert client.post(url, {"reason": "x"}).status_code == 404, url
    reviewed.refresh_from_db()
    assert reviewed.status == InvoiceStatus.IN_REVIEW
    assert not BillingAudit.objects.filter(target=f"invoice:{reviewed.pk}").exists()


def test_anonymous_is_sent_to_sign_in(reviewed):
    r = Client().get(REVIEW)
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")


def test_list_shows_invoices_waiting_with_their_check(staff_client, tenancy, reviewed):
    done = make_invoice(tenancy.org, "2025-01", status=InvoiceStatus.PAID, number="INV-9")

    html = staff_client.get(REVIEW).content.decode()

    assert f'id="review-{reviewed.pk}"' in html
    assert f'id="review-{done.pk}"' not in html  # not waiting for review
    row = html.split(f'id="review-{reviewed.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "Reconciles" in row
    assert "raw usage records $0.00002" in row  # 3 × 2e-6 + 2 × 7e-6 USD, from check_details
    other = Invoice.objects.get(organization=tenancy.other_org, period=reviewed.period)
    assert f'id="review-{other.pk}"' in html  # across organizations


def test_list_filters_by_status_and_period(staff_client, tenancy, reviewed):
    done = make_invoice(tenancy.org, "2025-01", status=InvoiceStatus.PAID, number="INV-9")
    html = staff_client.get(REVIEW, {"status": "paid"}).content.decode()
    assert f'id="review-{done.pk}"' in html and f'id="review-{reviewed.pk}"' not in html
    html = staff_client.get(REVIEW, {"status": "all", "period": "2025-01"}).content.decode()
    assert f'id="review-{done.pk}"' in html and f'id="review-{reviewed.pk}"' not in html
    bad = staff_client.get(REVIEW, {"period": "January"}).content.decode()
    assert "Write the period as YYYY-MM." in bad


def test_invoice_page_shows_lines_check_and_actions(staff_client, reviewed):
    html = staff_client.get(f"{REVIEW}invoices/{reviewed.pk}/").content.decode()
    assert 'id="review-check"' in html and "Reconciles" in html
    for line in reviewed.lines.all():
        assert f'id="line-{line.pk}"' in html
        assert f"/lines/{line.pk}/usage/" in html
    assert "Approve and finalize" in html and 'id="void-form"' in html
    assert 'id="credit-note-form"' not in html  # only on finalized or paid invoices
    assert 'name="csrfmiddlewaretoken"' in html


def test_drill_down_pages_the_lines_usage_newest_first_by_keyset(
    staff_client, tenancy, reviewed, monkeypatch
):
    monkeypatch.setattr(selectors, "USAGE_PAGE_SIZE", 2)
    line = reviewed.lines.get(model="m-small")
    url = f"{REVIEW}invoices/{reviewed.pk}/lines/{line.pk}/usage/"
    records = list(
        reviewed.organization.usagerecord_set.filter(model="m-small").order_by("-created_at", "-id")
    )
    assert len(records) == 3

    first = staff_client.get(url)
    page1 = first.context["usage"]
    assert [r.pk for r in page1.records] == [r.pk for r in records[:2]]
    assert page1.next_cursor
    second = staff_client.get(url, {"after": page1.next_cursor}).context["usage"]
    assert [r.pk for r in second.records] == [records[2].pk]
    assert second.next_cursor == ""
    assert records[0].request_id in first.content.decode()
    assert "m-big" not in "".join(r.model for r in page1.records + second.records)


def test_drill_down_of_a_byok_fee_line_shows_the_own_key_records_and_usage_the_others(
    staff_client, tenancy, settings
):
    from decimal import Decimal

    from billing import byok

    settings.BYOK_FEE_PERCENT = Decimal("5")
    byok.numerator.cache_clear()
    period = closed_period()
    start, _ = period_bounds(period)
    credits_grant(organization=tenancy.org, amount_pico=10 * PICO_PER_USD, reason="seed")
    plain = record_usage(tenancy.org, at=start + timedelta(days=2), model="m", count=2,
                         refresh=False)  # fmt: skip
    own = record_usage(tenancy.org, at=start + timedelta(days=3), model="m", count=3,
                       cost_pico=4_000_000, byok=True, refresh=False)  # fmt: skip
    reconcile(period=period)
    byok.numerator.cache_clear()
    invoice = Invoice.objects.get(organization=tenancy.org, period=period)
    shown = {}
    for kind in (LineKind.USAGE, LineKind.BYOK_FEE):
        line = invoice.lines.get(kind=kind, model="m")
        page = staff_client.get(f"{REVIEW}invoices/{invoice.pk}/lines/{line.pk}/usage/")
        assert page.status_code == 200
        shown[kind] = {r.request_id for r in page.context["usage"].records}
    assert shown == {LineKind.USAGE: set(plain), LineKind.BYOK_FEE: set(own)}
    review = staff_client.get(f"{REVIEW}invoices/{invoice.pk}/").content.decode()
    fee_line = invoice.lines.get(kind=LineKind.BYOK_FEE)
    assert f"/lines/{fee_line.pk}/usage/" in review


def test_drill_down_of_an_adjustment_shows_the_late_records_only(staff_client, tenancy):
    period = closed_period()
    start, _ = period_bounds(period)
    early = record_usage(tenancy.org, at=start + timedelta(days=1), model="m", refresh=False)
    covered = make_invoice(tenancy.org, period, status=InvoiceStatus.PAID, number="INV-1")
    covered.usage_watermark = UsageRecord.objects.get(request_id=early[0]).pk
    covered.save(update_fields=["usage_watermark"])
    late = record_usage(tenancy.org, at=start + timedelta(days=3), model="m", refresh=False)
    carrier = make_invoice(
        tenancy.org,
        period_of(timezone.now()),
        status=InvoiceStatus.DRAFT,
        lines=[(LineKind.ADJUSTMENT, "Late usage", "m", 150, 1_000_000, period)],
    )
    line = carrier.lines.get()

    r = staff_client.get(f"{REVIEW}invoices/{carrier.pk}/lines/{line.pk}/usage/")

    ids = [rec.request_id for rec in r.context["usage"].records]
    assert ids == late
    assert "recorded after that period" in r.content.decode()


def test_finalize_from_the_review_numbers_it_and_is_audited(staff_client, staff, reviewed):
    r = staff_client.post(f"{REVIEW}invoices/{reviewed.pk}/finalize/", follow=True)

    reviewed.refresh_from_db()
    assert reviewed.number  # numbered at finalization
    assert reviewed.status == InvoiceStatus.PAID  # prepaid: nothing due, paid from credit
    assert "Finalized the invoice." in r.content.decode()
    entry = BillingAudit.objects.get(action="invoice_finalize", target=f"invoice:{reviewed.pk}")
    assert entry.actor == staff
    assert "invoice_finalize" in r.content.decode()  # the invoice's history


def test_a_refused_action_shows_the_services_message(staff_client, tenancy):
    current = make_invoice(tenancy.org, period_of(timezone.now()), status=InvoiceStatus.DRAFT)
    r = staff_client.post(f"{REVIEW}invoices/{current.pk}/finalize/", follow=True)
    assert "is still running" in r.content.decode()
    current.refresh_from_db()
    assert current.status == InvoiceStatus.DRAFT
    r = staff_client.post(f"{REVIEW}invoices/{current.pk}/mark-paid/", follow=True)
    assert "only a finalized invoice can be marked paid" in r.content.decode()


def test_void_needs_a_reason_and_gives_the_credit_back_once(staff_client, tenancy, reviewed):
    tenancy.org.refresh_from_db()
    balance = tenancy.org.credit_balance_pico
    url = f"{REVIEW}invoices/{reviewed.pk}/void/"

    r = staff_client.post(url, {"reason": "  "}, follow=True)
    assert "Say why the invoice is voided" in r.content.decode()
    reviewed.refresh_from_db()
    assert reviewed.status == InvoiceStatus.IN_REVIEW

    r = staff_client.post(url, {"reason": "duplicate customer"}, follow=True)
    staff_client.post(url, {"reason": "again"})
    reviewed.refresh_from_db()
    tenancy.org.refresh_from_db()
    assert reviewed.status == InvoiceStatus.VOID and reviewed.void_reason == "duplicate customer"
    assert tenancy.org.credit_balance_pico == balance + 3 * 2_000_000 + 2 * 7_000_000
    audit = BillingAudit.objects.get(action="invoice_void", target=f"invoice:{reviewed.pk}")
    assert audit.reason == "duplicate customer"


def test_credit_note_and_mark_paid_on_a_finalized_invoice(staff_client, tenancy):
    inv = make_invoice(
        tenancy.org,
        closed_period(),
        status=InvoiceStatus.FINALIZED,
        number="INV-777",
        plan="team",
        lines=[(LineKind.PLAN_FEE, "Plan team", "", 1, 49 * PICO_PER_USD)],
    )
    page = staff_client.get(f"{REVIEW}invoices/{inv.pk}/").content.decode()
    assert 'id="credit-note-form"' in page and "Mark paid" in page

    r = staff_client.post(
        f"{REVIEW}invoices/{inv.pk}/credit-note/",
        {"note-amount_usd": "4.50", "note-reason": "outage on the 3rd"},
        follow=True,
    )
    note = CreditNote.objects.get(invoice=inv)
    assert note.amount_pico == 4_500_000_000_000 and note.reason == "outage on the 3rd"
    assert "Issued a credit note of $4.50" in r.content.decode()

    too_much = staff_client.post(
        f"{REVIEW}invoices/{inv.pk}/credit-note/",
        {"note-amount_usd": "100", "note-reason": "x"},
        follow=True,
    )
    assert "can still be credited" in too_much.content.decode()
    assert CreditNote.objects.filter(invoice=inv).count() == 1

    staff_client.post(f"{REVIEW}invoices/{inv.pk}/mark-paid/")
    inv.refresh_from_db()
    assert inv.status == InvoiceStatus.PAID and inv.paid_via == "manual"


def test_adjust_credits_with_a_reason_once_per_form(staff_client, tenancy, reviewed):
    tenancy.org.refresh_from_db()
    balance = tenancy.org.credit_balance_pico
    url = f"{REVIEW}invoices/{reviewed.pk}/credits/"
    form = {"credits-amount_usd": "-1.25", "credits-reason": "goodwill reversed",
            "idempotency_key": "form-1"}  # fmt: skip

    r = staff_client.post(url, form, follow=True)
    staff_client.post(url, form)  # resubmitted
    missing = staff_client.post(url, {"credits-amount_usd": "2"}, follow=True)

    tenancy.org.refresh_from_db()
    assert tenancy.org.credit_balance_pico == balance - 1_250_000_000_000
    assert "credit by -$1.25" in r.content.decode()
    assert "Give an amount in USD and a reason" in missing.content.decode()
    assert BillingAudit.objects.filter(action="credits_adjust").count() == 1


def test_every_action_needs_csrf(staff, reviewed):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    for action in STAFF_POSTS:
        r = client.post(f"{REVIEW}invoices/{reviewed.pk}/{action}/", {"reason": "x"})
        assert r.status_code == 403, action
    reviewed.refresh_from_db()
    assert reviewed.status == InvoiceStatus.IN_REVIEW


def test_audit_log_lists_actions_with_actor_before_after_and_reason(staff_client, staff, reviewed):
    staff_client.post(f"{REVIEW}invoices/{reviewed.pk}/void/", {"reason": "wrong plan"})

    html = staff_client.get(f"{REVIEW}audit/").content.decode()

    entry = BillingAudit.objects.get(action="invoice_void")
    row = html.split(f'id="audit-{entry.pk}"', 1)[1].split("</tr>", 1)[0]
    assert staff.email in row and "invoice_void" in row and "wrong plan" in row
    assert f"invoice:{reviewed.pk}" in row
    assert "in_review" in row and "void" in row  # before and after


def test_csv_of_invoices_and_of_an_invoices_lines_with_exact_money(staff_client, tenancy, reviewed):
    r = staff_client.get(f"{REVIEW}invoices.csv")
    assert r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    mine = next(row for row in rows if row["id"] == str(reviewed.pk))
    assert mine["organization"] == "org-a"
    assert mine["total_usd"] == "0.00002"
    assert mine["status"] == "in_review" and mine["check_status"] == "ok"

    paid = staff_client.get(f"{REVIEW}invoices.csv", {"status": "paid"})
    assert list(csv.DictReader(io.StringIO(paid.content.decode()))) == []

    lines = staff_client.get(f"{REVIEW}invoices/{reviewed.pk}/lines.csv")
    got = {row["model"]: row for row in csv.DictReader(io.StringIO(lines.content.decode()))}
    assert got["m-small"]["amount_usd"] == "0.000006"
    assert got["m-big"]["amount_usd"] == "0.000014"
    assert got["m-big"]["kind"] == "usage"


def test_review_list_makes_no_query_per_invoice(staff_client, tenancy, django_assert_num_queries):
    make_invoice(tenancy.org, "2025-01", lines=[(LineKind.USAGE, "u", "m", 1, 5)])
    with CaptureQueriesContext(connection) as one:
        staff_client.get(REVIEW)
    for month in range(2, 8):
        org = tenancy.org if month % 2 else tenancy.other_org
        make_invoice(org, f"2025-{month:02d}", lines=[(LineKind.USAGE, "u", "m", 1, 5)])
    with django_assert_num_queries(len(one.captured_queries)):
        r = staff_client.get(REVIEW)
    assert len(r.context["rows"]) == 7


def test_late_usage_after_finalizing_is_drilled_into_from_the_next_invoices_adjustment(
    staff_client, tenancy, reviewed
):
    """The real flow: finalize, then usage of that period arrives late; reconcile puts it
    on the next open invoice as an adjustment, whose drill-down shows only the late one."""
    staff_client.post(f"{REVIEW}invoices/{reviewed.pk}/finalize/")
    start, _ = period_bounds(reviewed.period)
    late = record_usage(tenancy.org, at=start + timedelta(days=6), model="m-small",
                        key=tenancy.owner_key.key, cost_pico=3_000_000, refresh=False)  # fmt: skip
    reconcile(period=period_of(timezone.now()))
    carrier = Invoice.objects.get(organization=tenancy.org, period=period_of(timezone.now()))
    line = carrier.lines.get(kind=LineKind.ADJUSTMENT)
    assert line.covers_period == reviewed.period

    r = staff_client.get(f"{REVIEW}invoices/{carrier.pk}/lines/{line.pk}/usage/")

    assert [rec.request_id for rec in r.context["usage"].records] == late


def test_a_mismatch_is_shown_with_its_problems(staff_client, tenancy):
    inv = make_invoice(tenancy.org, closed_period(), lines=[(LineKind.USAGE, "u", "m", 1, 5)])
    inv.check_status = CheckStatus.MISMATCH
    inv.check_details = {"lines_usage_pico": "5", "raw_pico": "7",
                         "problems": ["The usage lines (5) and the raw records (7) differ."]}  # fmt: skip
    inv.save(update_fields=["check_status", "check_details"])

    listed = staff_client.get(REVIEW).content.decode()
    page = staff_client.get(f"{REVIEW}invoices/{inv.pk}/").content.decode()

    assert "Does not reconcile" in listed and "raw usage records $0.000000000007" in listed
    assert 'class="value check-mismatch" id="review-check">Does not reconcile<' in page
    assert "The usage lines (5) and the raw records (7) differ." in page
