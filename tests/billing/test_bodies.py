"""Stored bodies: written once with their record, kept for the organization's retention,
purged after it, and deleted at once when asked; one organization's never touch another's."""

from datetime import timedelta

from django.utils import timezone

from accounts.models import Organization
from accounts.services import organization_set_logging
from billing import bodies
from billing.models import UsageBody, UsageRecord
from billing.usage import UsageEvent, usage_record_batch


def _event(org: Organization, request_id: str, *, age: timedelta = timedelta(0), prompt="{}"):
    return UsageEvent(
        request_id=request_id, organization_id=org.pk, api_key_id=None, endpoint="chat",
        model="demo", status="ok", created_at=timezone.now() - age,
        prompt=prompt, answer='{"ok": true}',
    )  # fmt: skip


def test_a_body_is_written_with_its_record_once_even_when_the_batch_is_retried(tenancy):
    events = [_event(tenancy.org, "req_b1"), _event(tenancy.org, "req_b2", prompt=None)]
    assert usage_record_batch(events) == 2
    assert usage_record_batch(events) == 0  # a retry: no second record, no second body
    assert UsageRecord.objects.count() == 2
    assert list(UsageBody.objects.values_list("request_id", flat=True)) == ["req_b1"]
    body = UsageBody.objects.get()
    assert body.answer == '{"ok": true}' and body.organization_id == tenancy.org.pk


def test_the_purge_keeps_each_organization_to_its_own_retention(tenancy):
    organization_set_logging(organization=tenancy.org, log_bodies=True, body_retention_days=1)
    organization_set_logging(
        organization=tenancy.other_org, log_bodies=True, body_retention_days=30
    )
    usage_record_batch([
        _event(tenancy.org, "a-new", age=timedelta(hours=23)),
        _event(tenancy.org, "a-old", age=timedelta(hours=25)),
        _event(tenancy.other_org, "b-new", age=timedelta(days=29)),
        _event(tenancy.other_org, "b-old", age=timedelta(days=31)),
    ])  # fmt: skip
    assert bodies.bodies_purge() == 2
    assert set(UsageBody.objects.values_list("request_id", flat=True)) == {"a-new", "b-new"}
    assert bodies.bodies_purge() == 0  # run again: nothing more
    assert UsageRecord.objects.count() == 4  # the records themselves stay


def test_a_body_past_retention_is_not_shown_before_the_purge_runs(tenancy):
    organization_set_logging(organization=tenancy.org, log_bodies=True, body_retention_days=7)
    usage_record_batch([_event(tenancy.org, "seen", age=timedelta(days=6)),
                        _event(tenancy.org, "past", age=timedelta(days=8))])  # fmt: skip
    org = Organization.objects.get(pk=tenancy.org.pk)
    assert bodies.body_get(organization=org, request_id="seen") is not None
    assert bodies.body_get(organization=org, request_id="past") is None
    # Another organization cannot read it by its request id.
    assert bodies.body_get(organization=tenancy.other_org, request_id="seen") is None


def test_deleting_one_organizations_bodies_leaves_the_others(tenancy):
    usage_record_batch([_event(tenancy.org, f"a{i}") for i in range(3)]
                       + [_event(tenancy.other_org, "b0")])  # fmt: skip
    assert bodies.bodies_delete(organization=tenancy.org) == 3
    assert list(UsageBody.objects.values_list("request_id", flat=True)) == ["b0"]


def test_a_body_keeps_to_what_a_text_column_holds():
    text, cut = bodies.body_text(b'{"a": "\x00"}\xff')
    assert "\x00" not in text and text.endswith("\ufffd") and not cut
    text, cut = bodies.body_text(b"x" * (bodies.MAX_BYTES + 1))
    assert cut and len(text) == bodies.MAX_BYTES


def test_the_purge_is_on_the_beat_schedule(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["billing-bodies-purge"]
    assert entry["task"] == "billing.tasks.bodies_purge"
    from billing.tasks import bodies_purge

    assert bodies_purge.name == entry["task"]
