from datetime import UTC, datetime

import pytest

from billing import spend_counters as sc
from billing.usage import UsageEvent, usage_record_batch
from tests.proxy.conftest import make_tenant


def test_periods_start_at_utc_midnight_monday_and_the_first():
    at = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # a Wednesday
    assert sc.period_id("day", at) == "d2026-12-02"
    assert sc.period_id("week", at) == "w2026-11-30"
    assert sc.period_id("month", at) == "m2026-12"
    assert sc.resets_at("week", at) == datetime(2026, 12, 7, tzinfo=UTC)
    assert sc.resets_at("month", datetime(2026, 12, 31, 23, tzinfo=UTC)) == datetime(
        2027, 1, 1, tzinfo=UTC
    )


@pytest.mark.django_db(transaction=True)
def test_a_batch_adds_to_each_counter_once_even_when_written_twice():
    t = make_tenant()

    def ev(i, c):
        return UsageEvent(
            request_id=f"r{i}",
            organization_id=t.org.pk,
            api_key_id=t.key.pk,
            endpoint="chat",
            model="m",
            status="ok",
            cost_pico=c,
        )

    usage_record_batch([ev(1, 5), ev(2, 7)])
    usage_record_batch([ev(2, 7), ev(3, 1)])
    from django.utils import timezone

    now = timezone.now()
    assert sc.spent(sc.key_subject(t.key.pk), sc.period_id("day", now)) == 13
    assert sc.spent(sc.key_subject(t.key.pk), "total") == 13
    assert sc.spent(sc.org_subject(t.org.pk), sc.period_id("month", now)) == 13
