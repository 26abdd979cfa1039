"""Auto-reload against localstripe: one off-session charge per threshold crossing, within
the monthly maximum, keyed by (organization, month, n); and its settings form."""

from datetime import timedelta

import pytest
import stripe
from django.contrib.messages import get_messages
from django.test import Client

from accounts.money import PICO_PER_USD
from billing.models import BillingAudit, BillingProfile, LedgerKind, TopUp
from billing.periods import period_of
from billing.services import credits_grant, organization_balance
from billing.stripe import autoreload
from billing.tasks import autoreload_check as autoreload_check_task
from tests.billing.stripe.doubles import SECRET_KEY, event, signed

pytestmark = pytest.mark.django_db

USD = PICO_PER_USD
DECLINED = "4000000000000341"


def sdk(double) -> stripe.StripeClient:
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": double.url})


def with_card(tenancy, double, number: str = "4242424242424242", **overrides) -> BillingProfile:
    customer = sdk(double).v1.customers.create(params={"name": "Org A"})
    fields = dict(
        stripe_customer_id=customer.id,
        default_payment_method=double.card(customer.id, number),
        autoreload_enabled=True,
        autoreload_threshold_pico=10 * USD,
        autoreload_target_pico=50 * USD,
        autoreload_monthly_max_pico=100 * USD,
    )
    fields.update(overrides)
    return BillingProfile.objects.create(organization=tenancy.org, **fields)


def set_balance(tenancy, usd: int) -> None:
    now = organization_balance(organization_id=tenancy.org.pk)
    credits_grant(
        organization=tenancy.org,
        amount_pico=usd * USD - now,
        reason="test spend",
        kind=LedgerKind.ADJUSTMENT,
    )


def balance(tenancy) -> int:
    return organization_balance(organization_id=tenancy.org.pk)


def charges(double) -> list[dict]:
    return [
        r for r in double.requests() if r["method"] == "POST" and r["path"] == "/v1/payment_intents"
    ]


def test_one_charge_per_crossing_within_the_monthly_maximum(tenancy, stripe_on):
    with_card(tenancy, stripe_on)
    set_balance(tenancy, 5)
    autoreload_check_task.delay().get()
    assert balance(tenancy) == 50 * USD  # charged to the target: $45
    (topup,) = TopUp.objects.filter(kind="autoreload")
    assert (topup.amount_pico, topup.status) == (45 * USD, "paid")

    # above the threshold: nothing, however often the beat runs
    autoreload_check_task.delay().get()
    autoreload.autoreload_check()
    assert len(charges(stripe_on)) == 1

    # its webhook credits nothing more
    intent = sdk(stripe_on).v1.payment_intents.retrieve(topup.payment_intent_id).to_dict()
    body, signature = signed(event("payment_intent.succeeded", intent))
    Client().post(
        "/stripe/webhook/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature
    )
    assert balance(tenancy) == 50 * USD

    # a second crossing: a second charge ($45, $90 this month)
    set_balance(tenancy, 5)
    autoreload.autoreload_check()
    assert balance(tenancy) == 50 * USD
    # a third would make $135 > the $100 monthly maximum: none
    set_balance(tenancy, 5)
    autoreload.autoreload_check()
    assert balance(tenancy) == 5 * USD
    period = period_of(TopUp.objects.first().created_at)
    assert [c["key"] for c in charges(stripe_on)] == [
        f"autoreload-{tenancy.org.pk}-{period}-1",
        f"autoreload-{tenancy.org.pk}-{period}-2",
    ]
    assert TopUp.objects.filter(kind="autoreload").count() == 2


def test_a_charge_still_settling_is_not_charged_again(tenancy, stripe_on, monkeypatch):
    """Stripe answers `processing` (a debit that settles later; localstripe settles every
    method at once, so this answer is staged): until its webhook, no second charge."""
    from types import SimpleNamespace

    with_card(tenancy, stripe_on)
    set_balance(tenancy, 0)
    sent = []

    def create(*, params, options):
        sent.append(options["idempotency_key"])
        return SimpleNamespace(id="pi_settling", status="processing")

    staged = SimpleNamespace(v1=SimpleNamespace(payment_intents=SimpleNamespace(create=create)))
    monkeypatch.setattr(autoreload, "stripe_client", lambda: staged)
    for _ in range(4):  # the beat, while the debit settles: still below the threshold
        autoreload.autoreload_check()
    assert len(sent) == 1
    (topup,) = TopUp.objects.filter(kind="autoreload")
    assert (topup.status, topup.payment_intent_id) == ("pending", "pi_settling")
    assert balance(tenancy) == 0

    settled = {
        "id": "pi_settling",
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 5000,
        "amount_received": 5000,
        "currency": "usd",
        "metadata": {
            "kind": "autoreload",
            "topup_id": str(topup.pk),
            "organization_id": str(tenancy.org.pk),
        },
    }
    for _ in range(2):
        body, signature = signed(event("payment_intent.succeeded", settled, event_id="evt_ar_1"))
        Client().post(
            "/stripe/webhook/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )
    assert balance(tenancy) == 50 * USD
    topup.refresh_from_db()
    assert topup.status == "paid"
    autoreload.autoreload_check()
    assert len(sent) == 1


def test_a_lost_answer_is_asked_again_with_the_same_key(tenancy, stripe_on, monkeypatch):
    with_card(tenancy, stripe_on)
    set_balance(tenancy, 5)

    class Unreachable:
        class v1:
            class payment_intents:
                @staticmethod
                def create(**kwargs):
                    raise stripe.APIConnectionError("network down")

    real = autoreload.stripe_client
    monkeypatch.setattr(autoreload, "stripe_client", lambda: Unreachable)
    autoreload.autoreload_check()
    (topup,) = TopUp.objects.filter(kind="autoreload")
    assert topup.status == "pending" and not topup.payment_intent_id
    monkeypatch.setattr(autoreload, "stripe_client", real)
    autoreload.autoreload_check()  # too soon: the first attempt may still be under way
    assert charges(stripe_on) == []
    monkeypatch.setattr(autoreload, "RESEND_AFTER", timedelta(0))  # two minutes later
    autoreload.autoreload_check()
    autoreload.autoreload_check()
    assert TopUp.objects.filter(kind="autoreload").count() == 1
    assert [c["key"] for c in charges(stripe_on)] == [
        f"autoreload-{tenancy.org.pk}-{period_of(topup.created_at)}-1"
    ]
    assert balance(tenancy) == 50 * USD


def test_a_declined_card_fails_once_and_turns_auto_reload_off(tenancy, stripe_on):
    with_card(tenancy, stripe_on, DECLINED)
    set_balance(tenancy, 5)
    autoreload.autoreload_check()
    autoreload.autoreload_check()
    (topup,) = TopUp.objects.filter(kind="autoreload")
    assert topup.status == "failed"
    assert not BillingProfile.objects.get(organization=tenancy.org).autoreload_enabled
    assert len(charges(stripe_on)) == 1
    assert balance(tenancy) == 5 * USD


def test_disabled_or_without_a_card_or_stripe_nothing_is_charged(tenancy, stripe_on, settings):
    profile = with_card(tenancy, stripe_on, autoreload_enabled=False)
    set_balance(tenancy, 0)
    autoreload.autoreload_check()
    BillingProfile.objects.filter(pk=profile.pk).update(
        autoreload_enabled=True, default_payment_method=""
    )
    autoreload.autoreload_check()
    BillingProfile.objects.filter(pk=profile.pk).update(default_payment_method="pm_x")
    settings.STRIPE_SECRET_KEY = ""
    autoreload.autoreload_check()
    assert charges(stripe_on) == []
    assert not TopUp.objects.exists()


# --- the settings form (POST /o/<slug>/billing/autoreload/) ----------------------------


def post_form(client, **fields):
    response = client.post("/o/org-a/billing/autoreload/", fields)
    assert response.status_code == 302
    assert response["Location"] == "/o/org-a/billing/"
    return [m.message for m in get_messages(response.wsgi_request)]


FORM = {"enabled": "on", "threshold": "10", "target": "50", "monthly_max": "200"}


def test_the_form_saves_settings_when_a_card_is_saved(tenancy, stripe_on):
    with_card(tenancy, stripe_on, autoreload_enabled=False)
    assert post_form(tenancy.client(tenancy.owner), **FORM) == ["Auto-reload is on."]
    profile = BillingProfile.objects.get(organization=tenancy.org)
    assert (
        profile.autoreload_enabled,
        profile.autoreload_threshold_pico,
        profile.autoreload_target_pico,
        profile.autoreload_monthly_max_pico,
    ) == (True, 10 * USD, 50 * USD, 200 * USD)
    assert BillingAudit.objects.filter(action="autoreload_update").count() == 1
    assert post_form(tenancy.client(tenancy.owner)) == ["Auto-reload is off."]
    assert not BillingProfile.objects.get(organization=tenancy.org).autoreload_enabled


def test_the_form_without_a_card_says_to_top_up_first(tenancy, stripe_on):
    (message,) = post_form(tenancy.client(tenancy.owner), **FORM)
    assert "saved card" in message
    assert not BillingProfile.objects.filter(autoreload_enabled=True).exists()


@pytest.mark.parametrize(
    "fields, says",
    [
        ({"target": "5"}, "above the threshold"),
        ({"monthly_max": "20"}, "monthly maximum"),
        ({"threshold": "ten"}, "in USD"),
        ({"threshold": "-1"}, "in USD"),
        ({"target": "20000"}, "at most"),
    ],
)
def test_the_form_refuses_values_that_cannot_work(tenancy, stripe_on, fields, says):
    with_card(tenancy, stripe_on, autoreload_enabled=False)
    (message,) = post_form(tenancy.client(tenancy.owner), **{**FORM, **fields})
    assert says in message
    assert not BillingProfile.objects.get(organization=tenancy.org).autoreload_enabled


def test_the_form_is_for_managers_of_the_organization(tenancy, stripe_on):
    with_card(tenancy, stripe_on, autoreload_enabled=False)
    assert (
        tenancy.client(tenancy.member).post("/o/org-a/billing/autoreload/", FORM).status_code == 403
    )
    outsider = tenancy.client(tenancy.outsider).post("/o/org-a/billing/autoreload/", FORM)
    assert outsider.status_code == 404
    assert not BillingProfile.objects.get(organization=tenancy.org).autoreload_enabled


def test_with_stripe_off_the_form_says_so(tenancy):
    BillingProfile.objects.create(organization=tenancy.org, default_payment_method="pm_x")
    (message,) = post_form(tenancy.client(tenancy.owner), **FORM)
    assert "needs Stripe" in message
