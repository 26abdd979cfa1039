"""The proration of an upgrade taken at once, exact to the pico, through reconcile."""

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.invoices.reconcile import reconcile
from billing.models import Invoice, LineKind
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

SPAN = int((NOV - OCT).total_seconds())


@pytest.mark.django_db
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    old_fee=st.integers(0, 10**14),
    extra=st.integers(1, 10**14),
    at=st.integers(1, SPAN - 1),
    included=st.integers(0, 10**13),
    used=st.integers(0, 2 * 10**13),
)
def test_upgrade_is_prorated_exactly(old_fee, extra, at, included, used):
    with rolled_back():
        org = make_org()
        put_on(org, flat_plan("basic", fee=old_fee, included=0), OCT - timedelta(days=9))
        upgraded = OCT + timedelta(seconds=at)
        put_on(
            org, flat_plan("pro", fee=old_fee + extra, included=included), upgraded, prorated=True
        )
        if used:
            write_at = OCT + timedelta(seconds=SPAN - 1)  # after the upgrade, flat usage
            write([event(org, at=write_at, cost=used, prepaid=False)])
        reconcile(period="2026-10", now=NOW)
        invoice = Invoice.objects.get()
        proration = [li.amount_pico for li in invoice.lines.filter(kind=LineKind.PRORATION)]
        expected = extra * (SPAN - at) // SPAN
        assert proration == ([expected] if expected else [])  # no line for $0
        assert invoice.total_pico == old_fee + expected + max(0, used - included)
        assert invoice.plan == "pro"
