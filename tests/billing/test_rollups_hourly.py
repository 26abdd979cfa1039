"""Hourly rollups equal the records they sum, per UTC hour, whatever the writes; a day's
hours sum to its daily row; a rebuild repairs them; the hour boundaries are UTC's."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from billing.models import RollupDirty, UsageRecord, UsageRollup, UsageRollupHour
from billing.rollups import rollups_rebuild, rollups_refresh
from tests.billing.invoices.helpers import (
    OCT,
    event,
    make_org,
    raw_rollup,
    rolled_back,
    stored_rollup,
    write,
)
from tests.billing.test_rollups import PROPERTY, _keys, records

_VALUES = ("requests", "errors", "input_tokens", "output_tokens", "cached_tokens",
           "cache_write_tokens", "cost_pico", "debited_pico")  # fmt: skip


def raw_hourly() -> dict:
    """The hourly rows as the records say they should be: (org, hour, key, model) → sums."""
    out: dict = {}
    for r in UsageRecord.objects.all():
        hour = r.created_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        s = out.setdefault((r.organization_id, hour, r.api_key_id or 0, r.model), [0] * 8)
        for n, v in enumerate(
            (1, r.status != "ok", r.input_tokens, r.output_tokens, r.cached_tokens,
             r.cache_write_tokens, r.cost_pico, r.cost_pico if r.ledger_entry_id else 0)
        ):  # fmt: skip
            s[n] += v
    return out


def stored_hourly() -> dict:
    return {
        (r.organization_id, r.hour, r.key_id, r.model): [getattr(r, c) for c in _VALUES]
        for r in UsageRollupHour.objects.all()
    }


def hours_summed_by_day() -> dict:
    out: dict = {}
    for (org, hour, key, model), values in stored_hourly().items():
        s = out.setdefault((org, hour.astimezone(UTC).date(), key, model), [0] * 8)
        for n, v in enumerate(values):
            s[n] += v
    return out


@pytest.mark.django_db
@PROPERTY
@given(batches=st.lists(records, min_size=1, max_size=5), refresh_after=st.lists(st.booleans()))
def test_hourly_rollup_equals_the_records_after_random_and_retried_writes(batches, refresh_after):
    with rolled_back():
        orgs = [make_org() for _ in range(3)]
        keys = _keys(orgs)
        for n, batch in enumerate(batches):
            events = [
                event(orgs[o], at=OCT + timedelta(seconds=s), cost=cost, model=model,
                      key_id=None if k is None else keys[o][k].pk, status=status, prepaid=prepaid)
                for o, s, k, model, status, cost, prepaid in batch
            ]  # fmt: skip
            write(events)
            write(events[: len(events) // 2 + 1])  # a retried batch: written once
            if n < len(refresh_after) and refresh_after[n]:
                rollups_refresh(limit=3)
        rollups_refresh()
        assert not RollupDirty.objects.exists()
        assert stored_hourly() == raw_hourly()
        # Σ of a day's hours == its daily row, and both == the records.
        assert hours_summed_by_day() == stored_rollup() == raw_rollup()
        before = stored_hourly()
        RollupDirty.objects.create(organization_id=orgs[0].pk, day=date(2026, 10, 1))
        rollups_refresh()
        assert stored_hourly() == before


@pytest.mark.django_db
def test_hours_are_utc_and_read_back_as_aware_datetimes_on_the_hour():
    org = make_org()
    late = datetime(2026, 10, 3, 23, 59, 59, 999000, tzinfo=UTC)
    midnight = datetime(2026, 10, 4, tzinfo=UTC)
    write([event(org, at=late, cost=100), event(org, at=midnight, cost=7)])
    write([event(org, at=midnight + timedelta(minutes=59, seconds=59), cost=3)])
    rollups_refresh()
    rows = list(
        UsageRollupHour.objects.order_by("hour").values_list("hour", "requests", "cost_pico")
    )
    assert rows == [
        (datetime(2026, 10, 3, 23, tzinfo=UTC), 1, 100),
        (datetime(2026, 10, 4, 0, tzinfo=UTC), 2, 10),
    ]
    assert all(hour.utcoffset() == timedelta(0) for hour, _, _ in rows)
    # The ORM's filters on `hour` match what the recompute wrote.
    assert UsageRollupHour.objects.get(hour=midnight).cost_pico == 10
    assert UsageRollupHour.objects.filter(hour__gte=midnight).count() == 1
    assert sorted(UsageRollup.objects.values_list("day", "cost_pico")) == [
        (date(2026, 10, 3), 100),
        (date(2026, 10, 4), 10),
    ]


@pytest.mark.django_db
def test_hours_are_utc_whatever_the_postgresql_session_time_zone():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has no session time zone")
    org = make_org()
    write([event(org, at=datetime(2026, 10, 3, 23, 30, tzinfo=UTC), cost=5)])
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Asia/Kolkata'")  # +05:30: a wrong hour and day
        try:
            rollups_refresh()
        finally:
            cursor.execute("SET TIME ZONE 'UTC'")
    assert list(UsageRollupHour.objects.values_list("hour", flat=True)) == [
        datetime(2026, 10, 3, 23, tzinfo=UTC)
    ]
    assert list(UsageRollup.objects.values_list("day", flat=True)) == [date(2026, 10, 3)]


@pytest.mark.django_db
def test_an_hourly_row_the_records_no_longer_hold_goes_on_refresh():
    org = make_org()
    at = datetime(2026, 10, 3, 12, 5, tzinfo=UTC)
    write([event(org, at=at, cost=100, model="kept")])
    rollups_refresh()
    UsageRollupHour.objects.create(
        organization=org, hour=at.replace(hour=3, minute=0), model="ghost", cost_pico=5
    )
    RollupDirty.objects.create(organization_id=org.pk, day=at.date())
    rollups_refresh()
    assert set(UsageRollupHour.objects.values_list("model", flat=True)) == {"kept"}


@pytest.mark.django_db
def test_rebuild_repairs_a_hand_edited_hourly_row_and_drops_a_stray_one():
    org, other = make_org(), make_org()
    at = datetime(2026, 10, 3, 9, 15, tzinfo=UTC)
    write([event(org, at=at, cost=100), event(org, at=at + timedelta(hours=1), cost=7)])
    write([event(other, at=at, cost=9)])
    rollups_refresh()
    UsageRollupHour.objects.filter(organization=org, cost_pico=100).update(cost_pico=1)
    # A row on a day no record and no daily row names: only the hourly table knows it.
    UsageRollupHour.objects.create(
        organization=org, hour=datetime(2026, 10, 20, 4, tzinfo=UTC), model="ghost", requests=3
    )
    assert stored_hourly() != raw_hourly()
    assert rollups_rebuild(organization_id=org.pk, start=date(2026, 10, 1)) == 2
    assert stored_hourly() == raw_hourly()
    assert hours_summed_by_day() == stored_rollup() == raw_rollup()


@pytest.mark.django_db
def test_rebuild_limited_to_a_range_leaves_hours_outside_it():
    org = make_org()
    write([event(org, at=datetime(2026, 10, 3, 9, tzinfo=UTC), cost=100)])
    write([event(org, at=datetime(2026, 10, 5, 9, tzinfo=UTC), cost=100)])
    rollups_refresh()
    UsageRollupHour.objects.update(cost_pico=1)
    rollups_rebuild(organization_id=org.pk, start=date(2026, 10, 4), end=date(2026, 10, 6))
    assert sorted(UsageRollupHour.objects.values_list("hour__day", "cost_pico")) == [
        (3, 1),
        (5, 100),
    ]
