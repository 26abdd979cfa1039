"""Starting a top-up: the management API's POST /api/orgs/{slug}/topups/ and the portal's
button, through the real stripe SDK against the loopback double."""

import pytest
from django.contrib.messages import get_messages
from rest_framework.test import APIClient

from accounts.money import PICO_PER_USD
from accounts.services import api_key_create
from billing.models import BillingAudit, BillingProfile, CreditLedgerEntry, TopUp
from billing.stripe import STRIPE_OFF_MESSAGE

pytestmark = pytest.mark.django_db


def session(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def url(slug: str = "org-a") -> str:
    return f"/api/orgs/{slug}/topups/"


def test_with_stripe_off_the_api_answers_409_and_writes_nothing(tenancy):
    response = session(tenancy.owner).post(url(), {"amount_usd": "20"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": STRIPE_OFF_MESSAGE, "code": "stripe_off"}
    assert not TopUp.objects.exists()
    # and the rest of billing still answers: the balance is untouched, nothing else broke
    assert session(tenancy.owner).get("/api/orgs/org-a/").status_code == 200


def test_with_stripe_off_the_portal_button_goes_back_with_the_reason(tenancy):
    client = tenancy.client(tenancy.owner)
    response = client.post("/o/org-a/billing/topup/", {"amount_usd": "20"})
    assert response.status_code == 302
    assert response["Location"] == "/o/org-a/billing/"
    assert [m.message for m in get_messages(response.wsgi_request)] == [STRIPE_OFF_MESSAGE]
    assert not TopUp.objects.exists()


def test_api_top_up_creates_a_checkout_session_with_a_deterministic_key(tenancy, stripe_on):
    response = session(tenancy.owner).post(url(), {"amount_usd": "25.50"}, format="json")
    assert response.status_code == 201, response.content
    checkout_url = response.json()["checkout_url"]
    assert checkout_url.startswith(stripe_on.url + "/pay/cs_test_")

    topup = TopUp.objects.get()
    assert (topup.organization, topup.amount_pico, topup.status) == (
        tenancy.org,
        25_500_000_000_000,
        "pending",
    )
    assert checkout_url.endswith(topup.checkout_session_id)
    # no credit from starting, nor from the redirect back: only a webhook gives it
    assert not CreditLedgerEntry.objects.filter(organization=tenancy.org).exists()

    posts = [r for r in stripe_on.requests() if r["method"] == "POST"]
    assert [(r["path"], r["key"]) for r in posts] == [
        ("/v1/customers", f"customer-{tenancy.org.pk}"),
        ("/v1/checkout/sessions", f"topup-{topup.pk}"),
    ]
    profile = BillingProfile.objects.get(organization=tenancy.org)
    assert profile.stripe_customer_id.startswith("cus_")
    assert BillingAudit.objects.filter(action="topup_start", target=f"topup:{topup.pk}").exists()

    # a second top-up reuses the customer
    session(tenancy.owner).post(url(), {"amount_usd": "5"}, format="json")
    posts = [r for r in stripe_on.requests() if r["method"] == "POST"]
    assert [r["path"] for r in posts].count("/v1/customers") == 1


def test_the_session_carries_what_the_webhook_needs(tenancy, stripe_on):
    import stripe

    session(tenancy.owner).post(url(), {"amount_usd": "10"}, format="json")
    topup = TopUp.objects.get()
    client = stripe.StripeClient("sk_test_double", base_addresses={"api": stripe_on.url})
    checkout = client.v1.checkout.sessions.retrieve(topup.checkout_session_id)
    assert checkout.mode == "payment"
    assert checkout.amount_total == 1000
    assert checkout.metadata.to_dict() == {
        "topup_id": str(topup.pk),
        "organization_id": str(tenancy.org.pk),
    }
    assert checkout.success_url == "http://testserver/o/org-a/billing/?topup=done"
    assert checkout.cancel_url == "http://testserver/o/org-a/billing/?topup=cancelled"


def test_a_management_key_may_top_up_its_own_organization(tenancy, stripe_on):
    key = api_key_create(organization=tenancy.org, name="ops", is_management=True)
    response = bearer(key.secret).post(url(), {"amount_usd": "20"}, format="json")
    assert response.status_code == 201
    assert TopUp.objects.get().created_by is None


@pytest.mark.parametrize(
    "amount, field_error",
    [
        ("0.99", "between $1 and $10,000"),
        ("10000.01", "between $1 and $10,000"),
        ("-5", "between $1 and $10,000"),
        ("12.345", "to the cent"),
        ("lots", "like 20"),
        ("NaN", "to the cent"),
    ],
)
def test_bad_amounts_are_400_naming_the_field(tenancy, stripe_on, amount, field_error):
    response = session(tenancy.owner).post(url(), {"amount_usd": amount}, format="json")
    assert response.status_code == 400
    assert field_error in response.json()["amount_usd"][0]
    assert not TopUp.objects.exists()


def test_the_limits_themselves_are_accepted(tenancy, stripe_on):
    for amount in ("1", "10000.00"):
        response = session(tenancy.owner).post(url(), {"amount_usd": amount}, format="json")
        assert response.status_code == 201
    assert sorted(TopUp.objects.values_list("amount_pico", flat=True)) == [
        PICO_PER_USD,
        10_000 * PICO_PER_USD,
    ]


def test_another_organization_is_404_and_a_member_403(tenancy, stripe_on):
    assert session(tenancy.outsider).post(url(), {"amount_usd": "20"}).status_code == 404
    other_key = api_key_create(organization=tenancy.other_org, name="b", is_management=True)
    assert bearer(other_key.secret).post(url(), {"amount_usd": "20"}).status_code == 404
    assert session(tenancy.member).post(url(), {"amount_usd": "20"}).status_code == 403
    assert APIClient().post(url(), {"amount_usd": "20"}).status_code in (401, 403)
    assert not TopUp.objects.exists()


def test_portal_button_redirects_to_checkout(tenancy, stripe_on):
    response = tenancy.client(tenancy.admin).post("/o/org-a/billing/topup/", {"amount_usd": "20"})
    assert response.status_code == 302
    assert response["Location"].startswith(stripe_on.url + "/pay/cs_test_")
    assert TopUp.objects.get().created_by == tenancy.admin


def test_portal_button_is_for_managers_of_the_organization(tenancy, stripe_on):
    assert (
        tenancy.client(tenancy.member)
        .post("/o/org-a/billing/topup/", {"amount_usd": "20"})
        .status_code
        == 403
    )
    assert (
        tenancy.client(tenancy.outsider)
        .post("/o/org-a/billing/topup/", {"amount_usd": "20"})
        .status_code
        == 404
    )
    assert tenancy.client(tenancy.owner).get("/o/org-a/billing/topup/").status_code == 405
    assert not TopUp.objects.exists()


def test_portal_button_with_a_bad_amount_goes_back_with_the_reason(tenancy, stripe_on):
    response = tenancy.client(tenancy.owner).post("/o/org-a/billing/topup/", {"amount_usd": "0"})
    assert response["Location"] == "/o/org-a/billing/"
    (message,) = get_messages(response.wsgi_request)
    assert "between $1 and $10,000" in message.message


def test_stripe_unreachable_is_a_502_that_says_to_retry(tenancy, settings):
    settings.STRIPE_SECRET_KEY = "sk_test_double"  # and STRIPE_API_BASE a closed port
    response = session(tenancy.owner).post(url(), {"amount_usd": "20"}, format="json")
    assert response.status_code == 502
    assert response.json()["code"] == "stripe_unavailable"
    assert "try again in a minute" in response.json()["detail"]
    assert not TopUp.objects.exclude(status="failed").exists()
