"""Usage records written straight into the table, for the request log's tests: any time,
status and key, many at the same instant."""

import itertools
from datetime import datetime

from accounts.models import APIKey, Organization
from billing.models import UsageRecord

_ids = itertools.count(1)


def make_records(
    org: Organization,
    *,
    at: datetime,
    count: int = 1,
    key: APIKey | None = None,
    model: str = "gpt-4o-mini",
    status: str = "ok",
    **fields,
) -> list[UsageRecord]:
    return UsageRecord.objects.bulk_create(
        UsageRecord(
            request_id=f"req-log-{org.slug}-{next(_ids)}",
            organization=org,
            api_key=key,
            endpoint="chat.completions",
            model=model,
            status=status,
            created_at=at,
            **fields,
        )
        for _ in range(count)
    )
