"""Plan changes: downgrades and plain changes from the next period, upgrades at once and
prorated, the same plan a no-op, every change audited; the plan in force in one query."""

from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from accounts.money import PICO_PER_USD
from accounts.services import organization_create
from billing.models import BillingAudit, Plan, PlanChange
from billing.plans import BUILTIN, plan_in_force, plan_segments, plan_set, scheduled_change

NOW = datetime(2026, 5, 17, 9, 30, tzinfo=UTC)
JUNE = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def plans(db):
    payg = Plan.objects.create(name="payg", kind="prepaid", is_default=True)
    team = Plan.objects.create(
        name="team", kind="flat", monthly_fee_pico=49 * PICO_PER_USD,
        included_pico=40 * PICO_PER_USD, overage="bill",
    )  # fmt: skip
    pro = Plan.objects.create(
        name="pro", kind="flat", monthly_fee_pico=99 * PICO_PER_USD,
        included_pico=100 * PICO_PER_USD, overage="cap",
    )  # fmt: skip
    return {"payg": payg, "team": team, "pro": pro}


@pytest.fixture
def org(db):
    return organization_create(name="acme", owner=None, slug="acme")


def test_a_new_organization_is_on_the_default_plan_else_the_built_in_one(db, org):
    assert plan_in_force(organization_id=org.pk, at=NOW) == BUILTIN
    Plan.objects.create(name="starter", kind="prepaid", is_default=True)
    assert plan_in_force(organization_id=org.pk, at=NOW).name == "starter"


def test_the_plan_in_force_is_one_query(plans, org, django_assert_num_queries):
    plan_set(organization=org, plan=plans["team"], now=True, at=NOW)
    with django_assert_num_queries(1):
        assert plan_in_force(organization_id=org.pk, at=NOW).name == "team"
    with django_assert_num_queries(1):
        assert plan_in_force(organization_id=org.pk, at=JUNE.replace(month=4)).name == "payg"


def test_a_plain_change_takes_effect_at_the_next_period_and_replaces_a_scheduled_one(plans, org):
    first = plan_set(organization=org, plan=plans["team"], at=NOW)
    assert (first.effective_at, first.prorated) == (JUNE, False)
    assert plan_in_force(organization_id=org.pk, at=NOW).name == "payg"
    plan_set(organization=org, plan=plans["pro"], at=NOW)
    (scheduled,) = PlanChange.objects.filter(organization=org)
    assert (scheduled.plan.name, scheduled.effective_at) == ("pro", JUNE)
    assert plan_in_force(organization_id=org.pk, at=JUNE).name == "pro"


def test_a_downgrade_waits_for_the_end_of_the_period_even_when_asked_in_the_portal(plans, org):
    plan_set(organization=org, plan=plans["pro"], now=True, at=NOW)
    down = plan_set(
        organization=org, plan=plans["team"], upgrade_at_once=True, at=NOW.replace(day=20)
    )
    assert (down.effective_at, down.prorated) == (JUNE, False)
    assert plan_in_force(organization_id=org.pk, at=NOW.replace(day=25)).name == "pro"


def test_an_upgrade_takes_effect_at_once_prorated(plans, org):
    up = plan_set(organization=org, plan=plans["team"], upgrade_at_once=True, at=NOW)
    assert (up.effective_at, up.prorated) == (NOW, True)
    assert plan_in_force(organization_id=org.pk, at=NOW).name == "team"
    start = datetime(2026, 5, 1, tzinfo=UTC)
    segments = plan_segments(organization_id=org.pk, start=start, end=JUNE)
    assert [(s.terms.name, s.start, s.end, s.prorated) for s in segments] == [
        ("payg", start, NOW, False),
        ("team", NOW, JUNE, True),
    ]


def test_now_cancels_a_scheduled_change(plans, org):
    plan_set(organization=org, plan=plans["team"], at=NOW)
    plan_set(organization=org, plan=plans["pro"], now=True, at=NOW)
    assert scheduled_change(organization_id=org.pk, now=NOW) is None
    assert plan_in_force(organization_id=org.pk, at=JUNE).name == "pro"


def test_the_same_plan_is_a_no_op_and_choosing_it_again_cancels_a_scheduled_change(plans, org):
    assert plan_set(organization=org, plan=plans["payg"], now=True, at=NOW) is None
    assert not PlanChange.objects.exists() and not BillingAudit.objects.exists()
    plan_set(organization=org, plan=plans["team"], at=NOW)
    assert plan_set(organization=org, plan=plans["team"], at=NOW) is None  # already scheduled
    assert BillingAudit.objects.count() == 1
    assert plan_set(organization=org, plan=plans["payg"], at=NOW) is None
    assert scheduled_change(organization_id=org.pk, now=NOW) is None
    assert BillingAudit.objects.count() == 2


def test_every_change_is_audited_with_before_and_after(plans, org):
    from accounts.models import User

    admin = User.objects.create_user(email="ops@example.com", password="x")
    plan_set(organization=org, plan=plans["team"], at=NOW, actor=admin, reason="asked")
    plan_set(organization=org, plan=plans["pro"], now=True, at=NOW)
    first, second = BillingAudit.objects.order_by("id")
    assert (first.actor, first.action, first.organization, first.reason) == (
        admin,
        "plan_set",
        org,
        "asked",
    )
    assert first.before == {"plan": "payg", "scheduled": None}
    assert first.after == {"plan": "payg", "scheduled": {"plan": "team", "at": JUNE.isoformat()}}
    assert second.actor is None
    assert second.before["scheduled"]["plan"] == "team"
    assert second.after == {"plan": "pro", "scheduled": None}


def test_setplan_prints_the_plan_now_and_the_plan_scheduled(plans, org, capsys):
    call_command("setplan", "--org", "acme", "--plan", "team")
    out = capsys.readouterr().out
    assert "now: payg" in out and "scheduled: team from " in out
    call_command("setplan", "--org", "acme", "--plan", "pro", "--now")
    out = capsys.readouterr().out
    assert "now: pro" in out and "scheduled: none" in out
    change = PlanChange.objects.get(organization=org, plan=plans["pro"])
    assert change.prorated


def test_setplan_names_what_is_wrong(plans, org):
    with pytest.raises(CommandError, match="No organization has the slug 'nope'"):
        call_command("setplan", "--org", "nope", "--plan", "team")
    with pytest.raises(CommandError, match="Plans: payg, pro, team"):
        call_command("setplan", "--org", "acme", "--plan", "gold")
