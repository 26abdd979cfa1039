"""The BYOK fee (issue 14): a request served by an organization's own provider key is
charged BYOK_FEE_PERCENT of its cost at the model's prices, as its own ledger kind and its
own invoice line; budgets and caps still count the cost."""

import dataclasses
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from asgiref.sync import async_to_sync
from django.core.exceptions import ImproperlyConfigured
from django.db.models import F
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from accounts.models import APIKey
from accounts.services import api_key_create, organization_create
from billing import byok, holds
from billing.invoices.reconcile import reconcile
from billing.invoices.review import invoice_refresh
from billing.models import (
    CheckStatus,
    CreditLedgerEntry,
    Invoice,
    LedgerKind,
    LineKind,
    UsageRecord,
    UsageRollup,
)
from billing.rollups import rollups_refresh
from billing.services import credits_grant, ledger_balance
from platform_site.settings_ops import _byok_fee_percent
from tests.billing.invoices.helpers import NOV, NOW, event, flat_plan, make_org, put_on, write

USD = 10**12


@pytest.fixture
def percent(settings):
    """Sets BYOK_FEE_PERCENT for the test (the numerator is cached once per process)."""

    def set_to(value: str) -> None:
        settings.BYOK_FEE_PERCENT = Decimal(value)
        byok.numerator.cache_clear()

    set_to("5")
    yield set_to
    byok.numerator.cache_clear()


def _byok(ev):
    return dataclasses.replace(ev, byok=True, fee_pico=byok.fee_pico(ev.cost_pico))


def _half_up(cost: int, pct: Decimal) -> int:
    return int((Decimal(cost) * pct / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@given(
    costs=st.lists(st.integers(0, 10**15), max_size=40),
    pct=st.decimals(0, 100, places=4, allow_nan=False, allow_infinity=False),
)
@hsettings(max_examples=300, deadline=None)
def test_fee_is_the_per_record_half_up_rounding_and_never_above_the_cost(costs, pct):
    from django.conf import settings

    old = settings.BYOK_FEE_PERCENT
    try:
        settings.BYOK_FEE_PERCENT = pct
        byok.numerator.cache_clear()
        fees = [byok.fee_pico(c) for c in costs]
        assert sum(fees) == sum(_half_up(c, pct) for c in costs)
        assert all(0 <= f <= c for f, c in zip(fees, costs, strict=True))
    finally:
        settings.BYOK_FEE_PERCENT = old
        byok.numerator.cache_clear()


def test_half_a_pico_rounds_up(percent):
    percent("50")
    assert [byok.fee_pico(c) for c in (1, 2, 3)] == [1, 1, 2]
    percent("0")
    assert byok.fee_pico(10**12) == 0


@pytest.mark.parametrize("raw", ["abc", "-1", "100.01", "1.23456", "nan", "inf", ""])
def test_a_bad_percent_refuses_to_start_naming_the_setting(raw):
    with pytest.raises(ImproperlyConfigured, match="BYOK_FEE_PERCENT"):
        _byok_fee_percent(raw)


def test_a_good_percent_is_read_exactly():
    assert _byok_fee_percent("5.0025") == Decimal("5.0025")
    assert _byok_fee_percent("100") == 100


def _mixed_batch(org, *, prepaid=True):
    """Two plain records and three BYOK ones (one of a model served only by BYOK)."""
    at = NOV + timedelta(hours=1)
    plain = [
        event(org, at=at, cost=1_000, model="m1", prepaid=prepaid),
        event(org, at=at + timedelta(minutes=1), cost=2_345, model="m1", prepaid=prepaid),
    ]
    own = [
        _byok(event(org, at=at, cost=1_000_010, model="m1", prepaid=prepaid)),
        _byok(event(org, at=at, cost=3_333_333, model="own", prepaid=prepaid)),
        _byok(event(org, at=at + timedelta(hours=30), cost=17, model="own", prepaid=prepaid)),
    ]
    return plain, own


@pytest.mark.django_db
def test_a_prepaid_batch_debits_usage_and_fees_as_two_entries_once(percent):
    org = make_org()
    credits_grant(organization=org, amount_pico=USD, reason="test")
    plain, own = _mixed_batch(org)
    assert write(plain + own) == 5
    assert write(plain + own) == 0  # a retried batch debits nothing more
    usage = CreditLedgerEntry.objects.get(organization=org, kind=LedgerKind.USAGE)
    fee = CreditLedgerEntry.objects.get(organization=org, kind=LedgerKind.BYOK_FEE)
    assert usage.amount_pico == -(1_000 + 2_345)
    fees = [byok.fee_pico(e.cost_pico) for e in own]
    assert fees == [50_001, 166_667, 1]
    assert fee.amount_pico == -sum(fees) and fee.period == "2026-11"
    for record in UsageRecord.objects.filter(organization=org):
        assert record.ledger_entry_id == (fee.pk if record.byok else usage.pk)
        assert record.fee_pico == (byok.fee_pico(record.cost_pico) if record.byok else 0)
    entries = CreditLedgerEntry.objects.filter(organization=org)
    assert ledger_balance(organization=org) == sum(e.amount_pico for e in entries)
    assert ledger_balance(organization=org) == USD - 3_345 - sum(fees)


@pytest.mark.django_db
def test_rollups_fee_and_byok_cost_equal_the_records_group_by(percent):
    org = make_org()
    plain, own = _mixed_batch(org)
    write(plain + own)
    rollups_refresh()
    expected: dict = {}
    for r in UsageRecord.objects.all():
        s = expected.setdefault((r.created_at.date(), r.model), [0, 0, 0, 0, 0])
        s[0] += r.cost_pico
        s[1] += r.cost_pico if r.byok else 0
        s[2] += r.fee_pico
        s[3] += (r.fee_pico if r.byok else r.cost_pico) if r.ledger_entry_id else 0
        s[4] += r.fee_pico if r.byok and r.ledger_entry_id else 0
    stored = {
        (r.day, r.model): [
            r.cost_pico,
            r.byok_cost_pico,
            r.fee_pico,
            r.debited_pico,
            r.debited_fee_pico,
        ]
        for r in UsageRollup.objects.all()
    }
    assert stored == expected
    assert sum(v[2] for v in stored.values()) == 50_001 + 166_667 + 1


def _invoice(org):
    reconcile(period="2026-11", organization=org, now=NOW)
    return Invoice.objects.get(organization=org, period="2026-11")


@pytest.mark.django_db
def test_the_invoice_bills_usage_without_byok_cost_and_fees_on_their_own_lines(percent):
    org = make_org()
    credits_grant(organization=org, amount_pico=USD, reason="test")
    plain, own = _mixed_batch(org)
    write(plain + own)
    invoice = _invoice(org)
    lines = list(invoice.lines.values_list("kind", "model", "amount_pico"))
    assert (LineKind.USAGE, "m1", 3_345) in lines
    assert not any(k == LineKind.USAGE and m == "own" for k, m, _ in lines)  # BYOK only
    assert (LineKind.BYOK_FEE, "m1", 50_001) in lines
    assert (LineKind.BYOK_FEE, "own", 166_668) in lines
    assert invoice.total_pico == sum(a for _, _, a in lines) == 3_345 + 50_001 + 166_668
    assert invoice.check_status == CheckStatus.OK, invoice.check_details
    assert invoice.paid_from_credit_pico == invoice.total_pico  # prepaid: credit paid it all

    # A fee changed behind the writer's back: the records no longer match the rollups.
    UsageRecord.objects.filter(model="own").update(fee_pico=F("fee_pico") + 1)
    invoice = invoice_refresh(invoice=invoice, now=NOW)
    assert invoice.check_status == CheckStatus.MISMATCH
    assert any("BYOK fee" in p for p in invoice.check_details["problems"])


@pytest.mark.django_db
def test_a_flat_plan_invoices_the_fee_and_debits_nothing(percent):
    org = make_org()
    put_on(org, flat_plan("Team", fee=0, included=10**9), NOV - timedelta(days=40))
    plain, own = _mixed_batch(org, prepaid=False)
    write(plain + own)
    assert not CreditLedgerEntry.objects.filter(organization=org).exists()
    invoice = _invoice(org)
    by_kind: dict = {}
    for kind, amount in invoice.lines.values_list("kind", "amount_pico"):
        by_kind[kind] = by_kind.get(kind, 0) + amount
    assert by_kind[LineKind.BYOK_FEE] == 50_001 + 166_668
    assert by_kind[LineKind.USAGE] == 3_345
    assert by_kind[LineKind.INCLUDED] == -3_345  # the plan covers usage, not fees
    assert invoice.total_pico == 50_001 + 166_668
    assert invoice.check_status == CheckStatus.OK, invoice.check_details


@pytest.fixture
def local_holds(settings, transactional_db):
    settings.REDIS_URL = ""
    holds.forget()
    yield
    holds.forget()


def _org(credit: int):
    org = organization_create(name="byok", owner=None, slug="byok")
    credits_grant(organization=org, amount_pico=credit, reason="test")
    return org


def test_a_byok_call_holds_its_fee_against_credit_and_its_cost_against_the_budget(
    local_holds, percent
):
    org = _org(3 * USD // 100)  # $0.03
    key = api_key_create(organization=org, name="k", budget_pico=2 * USD).key
    pots = holds.pots_for(
        organization_id=org.pk,
        key_id=key.pk,
        budget_pico=key.budget_pico,
        budget_period="total",
        monthly_cap_pico=None,
        now=NOW,
    )
    reserve = async_to_sync(holds.reserve)
    with pytest.raises(holds.NotEnough):
        reserve(pots, USD)  # not BYOK: $1 against $0.03 of credit
    with pytest.raises(holds.NotEnough) as short:
        reserve(pots, USD, byok=True)  # 5% of $1 = $0.05 > $0.03
    assert short.value.pot.kind == holds.CREDIT and short.value.needed == USD // 20
    percent("1")
    hold = reserve(pots, USD, byok=True)  # 1% of $1 = $0.01: it fits
    with pytest.raises(holds.NotEnough) as short:
        # Its fee ($0.015) fits the credit left, but the budget holds the cost: $1 + $1.5 > $2.
        reserve(pots, 3 * USD // 2, byok=True)
    assert short.value.pot.kind == holds.KEY_BUDGET
    async_to_sync(holds.settle)(hold, USD // 2)  # cost $0.50: fee $0.005
    reserve((holds.Pot(holds.CREDIT, org.pk),), 25 * USD // 1000)  # $0.03 − $0.005 is free
    with pytest.raises(holds.NotEnough):
        reserve((holds.Pot(holds.CREDIT, org.pk),), 1)


@pytest.mark.django_db
def test_a_byok_record_adds_its_cost_to_the_key_spend_not_its_fee(percent):
    org = make_org()
    credits_grant(organization=org, amount_pico=USD, reason="test")
    key = api_key_create(organization=org, name="k").key
    ev = _byok(event(org, at=NOV + timedelta(hours=1), cost=1_000_000, key_id=key.pk))
    write([ev])
    assert APIKey.objects.get(pk=key.pk).spent_pico == 1_000_000
    assert ledger_balance(organization=org) == USD - 50_000
