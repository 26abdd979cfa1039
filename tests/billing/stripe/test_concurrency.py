"""Twice at once, on PostgreSQL (row locks and unique indexes doing the work): the same
event delivered concurrently, the two paths that prove one payment racing, and two
auto-reload checks racing each credit or charge once."""

import threading

import pytest
from django.db import connection
from django.test import Client

from accounts.money import PICO_PER_USD
from billing.models import CreditLedgerEntry, LedgerKind, StripeEvent, TopUp
from billing.services import credits_grant, organization_balance
from billing.stripe import autoreload
from tests.billing.stripe.doubles import event, signed
from tests.billing.stripe.test_autoreload import charges, with_card

USD = PICO_PER_USD


@pytest.fixture(autouse=True)
def _postgres_only(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL (SQLite serializes writers)")


def at_once(*calls) -> None:
    barrier = threading.Barrier(len(calls))
    errors = []

    def run(call):
        from django.db import connection as thread_connection

        try:
            barrier.wait()
            call()
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors


def post(ev: dict):
    def call():
        body, signature = signed(ev)
        response = Client().post(
            "/stripe/webhook/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )
        assert response.status_code == 200, response.content

    return call


def session_of(topup: TopUp) -> dict:
    return {
        "id": topup.checkout_session_id,
        "object": "checkout.session",
        "status": "complete",
        "payment_status": "paid",
        "amount_total": 2000,
        "currency": "usd",
        "payment_intent": f"pi_race_{topup.pk}",
        "metadata": {"topup_id": str(topup.pk), "organization_id": str(topup.organization_id)},
    }


def test_the_same_event_delivered_four_times_at_once_credits_once(tenancy):
    topup = TopUp.objects.create(
        organization=tenancy.org, amount_pico=20 * USD, checkout_session_id="cs_race_1"
    )
    before = organization_balance(organization_id=tenancy.org.pk)
    ev = event("checkout.session.completed", session_of(topup))
    at_once(*[post(ev)] * 4)
    assert organization_balance(organization_id=tenancy.org.pk) == before + 20 * USD
    assert StripeEvent.objects.filter(event_id=ev["id"]).count() == 1
    assert CreditLedgerEntry.objects.filter(kind=LedgerKind.TOPUP).count() == 1


def test_two_paths_proving_one_payment_at_once_credit_once(tenancy):
    topup = TopUp.objects.create(
        organization=tenancy.org, amount_pico=20 * USD, checkout_session_id="cs_race_2"
    )
    before = organization_balance(organization_id=tenancy.org.pk)
    session = session_of(topup)
    at_once(
        post(event("checkout.session.completed", session)),
        post(event("checkout.session.async_payment_succeeded", session)),
        post(event("checkout.session.completed", session)),
    )
    assert organization_balance(organization_id=tenancy.org.pk) == before + 20 * USD
    topup.refresh_from_db()
    assert topup.status == "paid"


def test_auto_reload_checks_at_once_charge_once(tenancy, stripe_on):
    with_card(tenancy, stripe_on)
    now = organization_balance(organization_id=tenancy.org.pk)
    credits_grant(
        organization=tenancy.org, amount_pico=5 * USD - now, reason="spend", kind="adjustment"
    )
    at_once(*[autoreload.autoreload_check] * 3)
    assert TopUp.objects.filter(kind="autoreload").count() == 1
    assert len(charges(stripe_on)) == 1
    assert organization_balance(organization_id=tenancy.org.pk) == 50 * USD
