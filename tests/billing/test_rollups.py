"""Rollups equal the records they sum, whatever the writes (the "aggregates that drift
from the logs" failure), and never count a retried batch twice."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import APIKey
from billing.models import RollupDirty, UsageRecord, UsageRollup
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

PROPERTY = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

# One record: (organization index, seconds into October, key index or None, model,
# status, cost, prepaid).
records = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.integers(0, 31 * 86400 - 1),
        st.sampled_from([None, 0, 1]),
        st.sampled_from(["m-a", "m-b", "m-c"]),
        st.sampled_from(["ok", "ok", "upstream_error", "client_abort"]),
        st.integers(0, 10**9),
        st.booleans(),
    ),
    min_size=1,
    max_size=40,
)


def _keys(orgs):
    return [
        [APIKey.objects.create(organization=o, name=f"k{i}", prefix=f"p{o.pk}_{i}", digest=f"d{o.pk}_{i}") for i in range(2)]
        for o in orgs
    ]  # fmt: skip


@pytest.mark.django_db
@PROPERTY
@given(batches=st.lists(records, min_size=1, max_size=5), refresh_after=st.lists(st.booleans()))
def test_rollup_equals_the_records_after_random_writes(batches, refresh_after):
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
                rollups_refresh(limit=3)  # part of the marks now, the rest later
        rollups_refresh()
        assert not RollupDirty.objects.exists()
        assert stored_rollup() == raw_rollup()
        assert UsageRecord.objects.count() == sum(len(b) for b in batches)
        # A second refresh, and a mark on a day already current, change nothing.
        before = stored_rollup()
        RollupDirty.objects.create(organization_id=orgs[0].pk, day=date(2026, 10, 1))
        rollups_refresh()
        rollups_refresh()
        assert stored_rollup() == before


@pytest.mark.django_db
def test_a_day_marked_twice_is_counted_once():
    org = make_org()
    at = datetime(2026, 10, 3, 12, tzinfo=UTC)
    write([event(org, at=at, cost=100)])
    write([event(org, at=at, cost=200)])
    assert RollupDirty.objects.get().marks == 2
    assert rollups_refresh() == 1
    row = UsageRollup.objects.get()
    assert (row.requests, row.cost_pico, row.debited_pico) == (2, 300, 300)


@pytest.mark.django_db
def test_a_rollup_row_the_records_no_longer_hold_goes():
    org = make_org()
    at = datetime(2026, 10, 3, 12, tzinfo=UTC)
    write([event(org, at=at, cost=100, model="kept")])
    rollups_refresh()
    UsageRollup.objects.create(organization=org, day=at.date(), model="ghost", cost_pico=5)
    RollupDirty.objects.create(organization_id=org.pk, day=at.date())
    rollups_refresh()
    assert set(UsageRollup.objects.values_list("model", flat=True)) == {"kept"}


@pytest.mark.django_db
def test_rebuild_repairs_a_drifted_rollup_without_marks():
    org, other = make_org(), make_org()
    at = datetime(2026, 10, 3, 23, 59, 59, tzinfo=UTC)
    write([event(org, at=at, cost=100), event(org, at=at + timedelta(seconds=1), cost=7)])
    write([event(other, at=at, cost=9)])
    rollups_refresh()
    UsageRollup.objects.filter(organization=org).update(cost_pico=1)  # drift by hand
    assert stored_rollup() != raw_rollup()
    assert rollups_rebuild(organization_id=org.pk, start=date(2026, 10, 1)) == 2
    assert stored_rollup() == raw_rollup()
    # Days are UTC days: 23:59:59 and midnight fall on two rows.
    assert sorted(UsageRollup.objects.filter(organization=org).values_list("day", "cost_pico")) == [
        (date(2026, 10, 3), 100),
        (date(2026, 10, 4), 7),
    ]


@pytest.mark.django_db(transaction=True)
def test_two_refreshes_and_a_rebuild_at_once_with_writes_between_leave_the_rollup_exact():
    """Two refreshing threads, a rebuilding one and a writing one, on PostgreSQL (SQLite serializes
    writers, so the sequential tests above are its whole story)."""
    if connection.vendor != "postgresql":
        pytest.skip("concurrent transactions need PostgreSQL")
    orgs = [make_org() for _ in range(4)]
    stop = threading.Event()
    errors = []

    def writer():
        try:
            for i in range(40):
                write(
                    [
                        event(orgs[i % 4], at=OCT + timedelta(hours=i * 7), cost=i + 1)
                        for _ in range(3)
                    ]
                )
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            stop.set()
            connection.close()

    def refresher():
        try:
            while not stop.is_set():
                rollups_refresh(limit=5)
            rollups_refresh()
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            connection.close()

    def rebuilder():
        try:
            while not stop.is_set():
                rollups_rebuild(organization_id=orgs[0].pk)
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer), threading.Thread(target=rebuilder)] + [
        threading.Thread(target=refresher) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    rollups_refresh()
    assert UsageRecord.objects.count() == 120
    assert stored_rollup() == raw_rollup()
