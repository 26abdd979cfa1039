"""Events in any order, duplicated, and tied within one second reach the same state: a
top-up's events (completion, delayed settlement, its PaymentIntent, a refund by two
paths, a dispute opened and closed) permuted by hypothesis give the same balance, the
same ledger entries and the same top-up status every time."""

import itertools
import re

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.money import PICO_PER_USD
from accounts.services import organization_create
from billing.models import BillingProfile, CreditLedgerEntry, StripeEvent, TopUp
from billing.services import organization_balance
from tests.billing.stripe.doubles import signed
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

USD = PICO_PER_USD
CENT = USD // 100
_orgs = itertools.count()
TIE = 1_796_000_000  # every event created in the same second


def scenario(topup: TopUp, *, delayed: bool, dispute: str | None) -> list[dict]:
    n = topup.pk
    pi, charge = f"pi_order_{n}", f"ch_order_{n}"
    meta = {"topup_id": str(n), "organization_id": str(topup.organization_id)}
    session = {
        "id": topup.checkout_session_id,
        "object": "checkout.session",
        "status": "complete",
        "payment_status": "unpaid" if delayed else "paid",
        "amount_total": 5000,
        "currency": "usd",
        "metadata": meta,
        "client_reference_id": str(n),
        "payment_intent": pi,
        "customer": f"cus_order_{n}",
    }
    refund = {
        "id": f"re_order_{n}",
        "object": "refund",
        "amount": 1000,
        "status": "succeeded",
        "charge": charge,
        "payment_intent": pi,
    }
    objects = [
        ("checkout.session.completed", session),
        (
            "payment_intent.succeeded",
            {
                "id": pi,
                "object": "payment_intent",
                "amount": 5000,
                "amount_received": 5000,
                "currency": "usd",
                "customer": f"cus_order_{n}",
                "payment_method": f"pm_order_{n}",
                "setup_future_usage": "off_session",
                "metadata": {**meta, "kind": "checkout"},
            },
        ),
        (
            "charge.refunded",
            {
                "id": charge,
                "object": "charge",
                "amount": 5000,
                "amount_refunded": 1000,
                "payment_intent": pi,
                "refunds": {"object": "list", "data": [refund], "has_more": False},
            },
        ),
        ("refund.created", refund),
    ]
    if delayed:
        objects.append(
            ("checkout.session.async_payment_succeeded", {**session, "payment_status": "paid"})
        )
    if dispute:
        opened = {
            "id": f"dp_order_{n}",
            "object": "dispute",
            "amount": 1500,
            "currency": "usd",
            "charge": charge,
            "payment_intent": pi,
            "status": "needs_response",
        }
        objects.append(("charge.dispute.created", opened))
        objects.append(("charge.dispute.closed", {**opened, "status": dispute}))
    return [
        {
            "id": f"evt_order_{n}_{i}",
            "object": "event",
            "type": event_type,
            "created": TIE,
            "data": {"object": obj},
        }
        for i, (event_type, obj) in enumerate(objects)
    ]


def fresh_topup(owner) -> TopUp:
    i = next(_orgs)
    org = organization_create(name=f"Order {i}", owner=owner, slug=f"order-{i}")
    return TopUp.objects.create(
        organization=org, amount_pico=50 * USD, checkout_session_id=f"cs_order_{i}"
    )


def deliver_all(events: list[dict]) -> None:
    client = Client()
    for ev in events:
        body, signature = signed(ev)
        response = client.post(
            "/stripe/webhook/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )
        assert response.status_code == 200, response.content


def state(topup: TopUp) -> tuple:
    topup.refresh_from_db()
    prefix = f"topup:{topup.pk}"

    def anonymous(text: str) -> str:
        return re.sub(rf"(?<![0-9]){topup.pk}(?![0-9])", "N", text)

    entries = sorted(
        (anonymous(key), amount)
        for key, amount in CreditLedgerEntry.objects.filter(
            organization_id=topup.organization_id, external_id__startswith=prefix
        ).values_list("external_id", "amount_pico")
    )
    profile = BillingProfile.objects.filter(organization_id=topup.organization_id).first()
    return (
        organization_balance(organization_id=topup.organization_id),
        topup.status,
        topup.refunded_pico,
        entries,
        anonymous(profile.default_payment_method) if profile else None,
    )


@pytest.fixture
def owner(db):
    return make_user("orders@example.com")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    delayed=st.booleans(),
    dispute=st.sampled_from([None, "won", "lost"]),
    data=st.data(),
)
def test_any_order_and_duplicates_converge(owner, delayed, dispute, data):
    # the reference: the events once each, in the order Stripe would send them
    reference = fresh_topup(owner)
    deliver_all(scenario(reference, delayed=delayed, dispute=dispute))
    expected = state(reference)

    topup = fresh_topup(owner)
    events = scenario(topup, delayed=delayed, dispute=dispute)
    shuffled = data.draw(st.permutations(events), label="order")
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=6), label="redelivered")
    positions = data.draw(
        st.lists(st.integers(0, len(shuffled)), min_size=len(repeats), max_size=len(repeats))
    )
    deliveries = list(shuffled)
    for ev, at in zip(repeats, positions, strict=True):
        deliveries.insert(at, ev)
    deliver_all(deliveries)

    assert state(topup) == expected
    assert not StripeEvent.objects.filter(processed_at=None, event_id__contains=f"_{topup.pk}_")


@pytest.mark.parametrize(
    "delayed, dispute, balance, status",
    [
        (False, None, 40 * USD, "paid"),
        (True, "won", 40 * USD, "paid"),
        (False, "lost", 25 * USD, "disputed"),
    ],
)
def test_the_converged_state_is_the_right_one(owner, delayed, dispute, balance, status):
    topup = fresh_topup(owner)
    before = organization_balance(organization_id=topup.organization_id)
    deliver_all(scenario(topup, delayed=delayed, dispute=dispute))
    topup.refresh_from_db()
    after = organization_balance(organization_id=topup.organization_id)
    assert (after - before, topup.status, topup.refunded_pico) == (balance, status, 10 * USD)
    assert BillingProfile.objects.get(
        organization_id=topup.organization_id
    ).default_payment_method == (f"pm_order_{topup.pk}")


def test_a_refund_that_overtakes_its_payment_waits_for_it(owner):
    topup = fresh_topup(owner)
    completed, _, refunded, *_ = scenario(topup, delayed=False, dispute=None)
    before = organization_balance(organization_id=topup.organization_id)
    deliver_all([refunded])
    stored = StripeEvent.objects.get(event_id=refunded["id"])
    assert stored.processed_at is None and stored.error.startswith("waiting")
    assert organization_balance(organization_id=topup.organization_id) == before
    deliver_all([completed])
    stored.refresh_from_db()
    assert stored.processed_at is not None
    assert organization_balance(organization_id=topup.organization_id) == before + 40 * USD


def test_reversals_never_exceed_the_top_up(owner):
    topup = fresh_topup(owner)
    events = scenario(topup, delayed=False, dispute="lost")
    huge = {
        "id": "evt_huge",
        "object": "event",
        "type": "refund.created",
        "created": TIE,
        "data": {
            "object": {
                "id": "re_huge",
                "object": "refund",
                "amount": 999_999,
                "status": "succeeded",
                "payment_intent": f"pi_order_{topup.pk}",
            }
        },
    }
    before = organization_balance(organization_id=topup.organization_id)
    deliver_all([*events, huge])
    reversed_total = -sum(
        CreditLedgerEntry.objects.filter(external_id__startswith=f"topup:{topup.pk}:").values_list(
            "amount_pico", flat=True
        )
    )
    assert reversed_total == 50 * USD
    assert organization_balance(organization_id=topup.organization_id) == before
