"""billing/alerts.py: a low balance and a spend spike raise one alert, email the owners once,
show a banner to the organization's members and resolve when the condition is gone; a
spike can pause the keys that made it, and the proxy then refuses them."""

import uuid
from datetime import timedelta
from decimal import Decimal

import httpx
from django.utils import timezone

from accounts.models import APIKey, Membership, Organization, Role
from accounts.money import usd_to_pico
from accounts.services import api_key_create, organization_create
from billing import alerts
from billing.models import Alert, AlertKind, UsageRecord
from billing.services import credits_grant
from billing.tasks import alerts_check
from proxy import auth
from tests.conftest import make_user
from tests.processes import wait_for

# The proxy test needs these fixtures; _fresh_proxy_state is autouse there, and so in
# this module too: it clears caches that would otherwise outlive an earlier test.
from tests.proxy.conftest import _fresh_proxy_state, make_tenant, routes, sandbox  # noqa: F401


def usd(value: str) -> int:
    return usd_to_pico(value)


def spend(org: Organization, amount: str, *, ago: timedelta, key: APIKey | None = None) -> None:
    UsageRecord.objects.create(
        request_id=f"req_{uuid.uuid4().hex}",
        organization=org,
        api_key=key,
        endpoint="chat/completions",
        model="demo",
        status="ok",
        cost_pico=usd(amount),
        created_at=timezone.now() - ago,
    )


def with_history(org: Organization, hourly: str, *, days: int = 8) -> None:
    """An organization `days` old that spent `hourly` USD an hour over the trailing week
    (one record a day of 24 × hourly, spread over the days)."""
    Organization.objects.filter(pk=org.pk).update(created_at=timezone.now() - timedelta(days=days))
    for day in range(7):
        spend(org, str(24 * Decimal(hourly)), ago=timedelta(hours=2 + 24 * day))


def run_check(capture) -> None:
    """The beat task, eager, with the emails it sends after commit."""
    with capture(execute=True):
        alerts_check.delay()


def open_alerts(org: Organization, kind: str) -> list[Alert]:
    return list(Alert.objects.filter(organization=org, kind=kind, resolved_at=None))


# --- Low balance ------------------------------------------------------------------------


def test_low_balance_alerts_the_owners_once_shows_a_banner_and_resolves_after_a_grant(
    tenancy, mailoutbox, django_capture_on_commit_callbacks
):
    org, other = tenancy.org, tenancy.other_org
    second_owner = make_user("owner2@a.example")
    Membership.objects.create(user=second_owner, organization=org, role=Role.OWNER)
    # The member belongs to B too: A's alert must not follow them onto B's pages.
    Membership.objects.create(user=tenancy.member, organization=other, role=Role.MEMBER)
    credits_grant(organization=org, amount_pico=usd("0.40"), reason="test")
    credits_grant(organization=other, amount_pico=usd("5"), reason="test")
    Organization.objects.filter(pk__in=[org.pk, other.pk]).update(
        low_balance_threshold_pico=usd("1")
    )

    run_check(django_capture_on_commit_callbacks)
    run_check(django_capture_on_commit_callbacks)  # idempotent: no second alert or email

    [alert] = Alert.objects.all()
    assert (alert.organization, alert.kind) == (org, AlertKind.LOW_BALANCE)
    assert alert.emailed_at is not None and alert.resolved_at is None
    assert "$0.40" in alert.message and "$1.00" in alert.message
    assert sorted(m.to[0] for m in mailoutbox) == ["owner2@a.example", "owner@a.example"]
    assert all(len(m.to) == 1 for m in mailoutbox)
    assert "Low balance" in mailoutbox[0].subject and "Org A" in mailoutbox[0].subject
    assert "$0.40" in mailoutbox[0].body and "/o/org-a/" in mailoutbox[0].body

    member = tenancy.client(tenancy.member)
    assert alert.message in member.get("/o/org-a/").content.decode()
    assert alert.message in member.get("/o/org-a/keys/").content.decode()
    assert 'id="org-alerts"' not in member.get("/o/org-b/").content.decode()
    outsider = tenancy.client(tenancy.outsider)
    assert 'id="org-alerts"' not in outsider.get("/o/org-b/").content.decode()
    refused = outsider.get("/o/org-a/")
    assert refused.status_code == 404 and alert.message not in refused.content.decode()

    credits_grant(organization=org, amount_pico=usd("5"), reason="top-up")
    run_check(django_capture_on_commit_callbacks)
    alert.refresh_from_db()
    assert alert.resolved_at is not None
    assert 'id="org-alerts"' not in member.get("/o/org-a/").content.decode()
    assert len(mailoutbox) == 2

    # A later drop is a new episode: a new alert, emailed again.
    credits_grant(organization=org, amount_pico=usd("-5"), reason="adjustment")
    run_check(django_capture_on_commit_callbacks)
    assert len(open_alerts(org, AlertKind.LOW_BALANCE)) == 1
    assert Alert.objects.count() == 2 and len(mailoutbox) == 4


def test_no_threshold_no_alert(tenancy, mailoutbox, django_capture_on_commit_callbacks):
    assert tenancy.org.credit_balance_pico == 0 and tenancy.org.low_balance_threshold_pico is None
    run_check(django_capture_on_commit_callbacks)
    assert not Alert.objects.exists() and mailoutbox == []


def test_a_dismissed_banner_stays_hidden_for_that_member_only(
    tenancy, django_capture_on_commit_callbacks
):
    Organization.objects.filter(pk=tenancy.org.pk).update(low_balance_threshold_pico=usd("1"))
    run_check(django_capture_on_commit_callbacks)
    [alert] = Alert.objects.all()
    url = f"/o/org-a/alerts/{alert.pk}/dismiss/"
    outsider, member, owner = (
        tenancy.client(u) for u in (tenancy.outsider, tenancy.member, tenancy.owner)
    )

    assert outsider.post(url).status_code == 404
    assert member.get(url).status_code == 405
    r = member.post(url, {"next": "/o/org-a/keys/"})
    assert (r.status_code, r.url) == (302, "/o/org-a/keys/")
    assert member.post(url, {"next": "https://evil.example/"}).url == "/o/org-a/"

    assert alert.message not in member.get("/o/org-a/").content.decode()
    assert alert.message in owner.get("/o/org-a/").content.decode()
    alert.refresh_from_db()
    assert alert.resolved_at is None  # still open: not raised or emailed again


def test_the_banner_costs_one_query(tenancy, django_assert_max_num_queries):
    """The context processor's query is lazy and single (membership joined in), whatever
    the number of alerts."""
    for kind in AlertKind.values:
        Alert.objects.create(organization=tenancy.org, kind=kind, message=f"{kind} alert")
    client = tenancy.client(tenancy.member)
    client.get("/o/org-a/")  # warms the session
    with django_assert_max_num_queries(20) as ctx:
        page = client.get("/o/org-a/").content.decode()
    assert "low_balance alert" in page and "spend_spike alert" in page
    banner_queries = [q for q in ctx.captured_queries if "billing_alert" in q["sql"]]
    assert len(banner_queries) == 1


# --- Spend spike ------------------------------------------------------------------------


def test_a_spike_over_the_trailing_average_alerts_the_owners_once_then_resolves(
    tenancy, mailoutbox, django_capture_on_commit_callbacks
):
    org = tenancy.org
    with_history(org, "0.10")
    key = tenancy.owner_key.key
    spend(org, "1.50", ago=timedelta(minutes=40), key=key)
    spend(org, "1.50", ago=timedelta(minutes=5), key=key)
    # Another tenant spends the same, but it is its habit.
    with_history(tenancy.other_org, "1")
    spend(tenancy.other_org, "3", ago=timedelta(minutes=5))

    run_check(django_capture_on_commit_callbacks)
    run_check(django_capture_on_commit_callbacks)

    [alert] = Alert.objects.all()
    assert (alert.organization, alert.kind) == (org, AlertKind.SPEND_SPIKE)
    assert "$3.00 in the last hour" in alert.message and "30×" in alert.message
    assert "$0.10 an hour" in alert.message
    assert [m.to for m in mailoutbox] == [["owner@a.example"]]
    assert "Spend spike" in mailoutbox[0].subject and "$3.00" in mailoutbox[0].body
    assert not APIKey.objects.exclude(paused_at=None).exists()  # pausing is opt-in

    # An hour later the last hour is quiet again: the alert resolves by itself.
    later = timezone.now() + timedelta(hours=1, minutes=1)
    assert alerts.alerts_check(now=later) == []
    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_spend_within_the_factor_of_the_average_is_no_spike(
    tenancy, django_capture_on_commit_callbacks
):
    with_history(tenancy.org, "1")
    spend(tenancy.org, "4.90", ago=timedelta(minutes=10))  # < 5 × $1
    run_check(django_capture_on_commit_callbacks)
    assert not Alert.objects.exists()


def test_a_new_organization_below_the_minimum_is_no_spike(
    tenancy, mailoutbox, django_capture_on_commit_callbacks
):
    """No history means an average of zero; the minimum (USD 1) keeps a new organization's
    first cents from being a spike, and the same spend over it is one."""
    org = organization_create(name="New", owner=tenancy.owner, slug="new")
    spend(org, "0.99", ago=timedelta(minutes=30))
    run_check(django_capture_on_commit_callbacks)
    assert not Alert.objects.exists() and mailoutbox == []

    spend(org, "0.02", ago=timedelta(minutes=1))
    run_check(django_capture_on_commit_callbacks)
    [alert] = open_alerts(org, AlertKind.SPEND_SPIKE)
    assert "with no spend before it" in alert.message and len(mailoutbox) == 1


def test_the_factor_and_minimum_are_settings(tenancy, settings, django_capture_on_commit_callbacks):
    settings.ALERT_SPIKE_FACTOR = 10
    settings.ALERT_SPIKE_MIN_USD = "0.50"
    with_history(tenancy.org, "0.10")
    spend(tenancy.org, "0.90", ago=timedelta(minutes=10))  # 9×: no spike at 10×
    run_check(django_capture_on_commit_callbacks)
    assert not Alert.objects.exists()
    spend(tenancy.org, "0.20", ago=timedelta(minutes=10))  # 11×, over USD 0.50
    run_check(django_capture_on_commit_callbacks)
    assert len(open_alerts(tenancy.org, AlertKind.SPEND_SPIKE)) == 1


def test_a_spike_pauses_exactly_the_keys_that_spent_and_the_proxy_refuses_them(
    asgi_server,
    routes,  # noqa: F811 - the fixture imported above
    mailoutbox,
):
    owner = make_user("owner@spiky.example")
    tenant = make_tenant("spiky")
    org = tenant.org
    Membership.objects.create(user=owner, organization=org, role=Role.OWNER)
    Organization.objects.filter(pk=org.pk).update(pause_keys_on_spike=True)
    with_history(org, "0.01")
    second = api_key_create(organization=org, name="second")
    idle = api_key_create(organization=org, name="idle")
    spend(org, "1", ago=timedelta(minutes=20), key=tenant.key)
    spend(org, "1", ago=timedelta(minutes=3), key=second.key)
    spend(org, "5", ago=timedelta(hours=3), key=idle.key)  # before the last hour
    bystander = make_tenant("bystander")
    spend(bystander.org, "0.50", ago=timedelta(minutes=3), key=bystander.key)

    alerts_check.delay()  # transactional database: the emails go after each commit

    paused = set(APIKey.objects.exclude(paused_at=None).values_list("name", flat=True))
    assert paused == {"test", "second"}
    [alert] = Alert.objects.all()
    assert alert.organization == org and "Paused these 2 keys" in alert.message
    assert tenant.key.prefix in alert.message and second.key.prefix in alert.message
    assert [m.to for m in mailoutbox] == [["owner@spiky.example"]]
    assert "Paused these 2 keys" in mailoutbox[0].body

    auth._cache.clear()  # the gateway would see the pause within its 2 s key cache TTL
    body = {"model": "demo", "messages": [{"role": "user", "content": "hi"}]}

    def ask(secret: str) -> httpx.Response:
        return httpx.post(
            asgi_server.url + "/v1/chat/completions",
            json=body,
            headers={"Authorization": f"Bearer {secret}"},
            timeout=10,
        )

    for secret in (tenant.secret, second.secret):
        r = ask(secret)
        assert r.status_code == 403 and r.json()["error"]["code"] == "key_paused"
    assert ask(idle.secret).status_code == 200
    assert ask(bystander.secret).status_code == 200


# --- The beat task through a real worker ------------------------------------------------


def test_the_beat_task_runs_in_a_real_worker(tenancy, celery_worker, mailoutbox):
    from platform_site.celery import app

    assert app.conf.beat_schedule["billing-alerts"]["task"] == alerts_check.name
    Organization.objects.filter(pk=tenancy.org.pk).update(low_balance_threshold_pico=usd("1"))

    alerts_check.delay()

    # The check and its email ran in the worker process: this process's outbox is empty,
    # but the shared database has the alert, marked emailed.
    assert wait_for(
        lambda: Alert.objects.filter(organization=tenancy.org).exclude(emailed_at=None).exists()
    )
    assert mailoutbox == []
    log = celery_worker.log()
    assert "billing.tasks.alerts_check" in log and "billing.tasks.alert_email_send" in log
