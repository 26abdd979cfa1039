"""Prompt and answer bodies: written with their usage records when the organization logs
bodies (accounts.Organization.log_bodies), shown only within its retention, purged after.

A body is the bytes as they crossed the gateway (the client's request, the answer as the
client received it, a stream's events included), decoded as UTF-8 and cut at MAX_BYTES
each: an agent's prompt of a few hundred kilobytes is kept whole, a 32 MiB upload is not.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization
from billing.models import UsageBody

if TYPE_CHECKING:
    from billing.usage import UsageEvent

MAX_BYTES = 256 * 1024
# Rows deleted per statement by the purge: bounded so that a long backlog never holds
# one huge transaction.
PURGE_CHUNK = 5_000


def body_text(data: bytes) -> tuple[str, bool]:
    """`data` as text a database column holds (PostgreSQL's text refuses NUL), and
    whether it was cut at MAX_BYTES."""
    cut = len(data) > MAX_BYTES
    text = data[:MAX_BYTES].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    return text, cut


def bodies_write(events: Sequence["UsageEvent"]) -> None:
    """The bodies of freshly written events that carry one (prompt is not None); inside the
    usage writer's transaction, so a body exists exactly when its record does."""
    rows = [
        UsageBody(
            request_id=e.request_id,
            organization_id=e.organization_id,
            created_at=e.created_at,
            prompt=e.prompt,
            answer=e.answer,
            prompt_truncated=e.prompt_truncated,
            answer_truncated=e.answer_truncated,
        )
        for e in events
        if e.prompt is not None
    ]
    if rows:
        UsageBody.objects.bulk_create(rows, ignore_conflicts=True)


def kept_since(organization: Organization, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=organization.body_retention_days)


def body_get(*, organization: Organization, request_id: str) -> UsageBody | None:
    """The request's stored body, unless it is older than the organization's retention
    (the purge may not have run yet: what is past retention is never shown)."""
    return UsageBody.objects.filter(
        organization=organization, request_id=request_id, created_at__gte=kept_since(organization)
    ).first()


def bodies_stored(*, organization: Organization) -> bool:
    return UsageBody.objects.filter(organization=organization).exists()


def bodies_purge(now: datetime | None = None) -> int:
    """Deletes every body older than its organization's retention; returns how many."""
    now = now or timezone.now()
    retentions = (
        Organization.objects.filter(usagebody__isnull=False)
        .values_list("body_retention_days", flat=True)
        .distinct()
    )
    expired = Q()
    for days in set(retentions):
        expired |= Q(
            organization__body_retention_days=days, created_at__lt=now - timedelta(days=days)
        )
    if not expired:
        return 0
    return _delete(UsageBody.objects.filter(expired))


def bodies_delete(*, organization: Organization) -> int:
    """Every stored body of the organization, at once (its owner asked)."""
    return _delete(UsageBody.objects.filter(organization=organization))


def _delete(queryset) -> int:
    total = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:PURGE_CHUNK])
        if not ids:
            return total
        total += UsageBody.objects.filter(pk__in=ids).delete()[0]
