"""Low-balance and spend-spike alerts: raised once per episode, emailed to the owners once,
resolved when the condition is gone, so that a later episode alerts again.

billing.tasks runs `alerts_check` every minute (Celery beat); it is idempotent: a second
run raises nothing new and sends no second email. At most one open alert of each kind per
organization: the check takes the organization's row lock before raising, so two
overlapping runs cannot both raise one.

A spend spike is the last hour's spend (Σ UsageRecord.cost_pico) above ALERT_SPIKE_FACTOR
times the organization's average hourly spend over the trailing ALERT_SPIKE_TRAILING_DAYS
(the last hour excluded), and at least ALERT_SPIKE_MIN_USD. The average divides by the
hours the organization has existed within that window (at least one), so a week-old
habit is not diluted for a two-day-old organization. The minimum keeps a new
organization's first dollars (no history: an average of zero) and trickles of cents
from counting as spikes; 5× and USD 1 are the defaults.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.db.models import F, Q, QuerySet, Sum
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import APIKey, Organization, Role, User
from accounts.money import format_usd, usd_to_pico
from billing.models import Alert, AlertKind, UsageRecord

HOUR = timedelta(hours=1)
MESSAGE_MAX = Alert._meta.get_field("message").max_length


def spike_factor() -> Decimal:
    return Decimal(str(getattr(settings, "ALERT_SPIKE_FACTOR", 5)))


def spike_min_pico() -> int:
    return usd_to_pico(getattr(settings, "ALERT_SPIKE_MIN_USD", "1"))


def spike_trailing() -> timedelta:
    return timedelta(days=getattr(settings, "ALERT_SPIKE_TRAILING_DAYS", 7))


def alerts_check(*, now: datetime | None = None) -> list[Alert]:
    """Both checks for every organization; returns the alerts raised by this run."""
    now = now or timezone.now()
    return low_balance_check(now=now) + spend_spike_check(now=now)


# --- Low balance ------------------------------------------------------------------------


def low_balance_check(*, now: datetime) -> list[Alert]:
    low = set(
        Organization.objects.filter(
            low_balance_threshold_pico__isnull=False,
            credit_balance_pico__lt=F("low_balance_threshold_pico"),
        ).values_list("pk", flat=True)
    )
    open_for = _open_alert_orgs(AlertKind.LOW_BALANCE)
    _resolve(kind=AlertKind.LOW_BALANCE, organization_ids=open_for - low, now=now)
    raised = []
    for organization_id in sorted(low - open_for):
        alert = _low_balance_raise(organization_id=organization_id, now=now)
        if alert is not None:
            raised.append(alert)
    return raised


def _low_balance_raise(*, organization_id: int, now: datetime) -> Alert | None:
    with transaction.atomic():
        org = _locked(organization_id, kind=AlertKind.LOW_BALANCE)
        threshold = org.low_balance_threshold_pico if org else None
        # Read again under the lock: a grant may have landed since the first query.
        if org is None or threshold is None or org.credit_balance_pico >= threshold:
            return None
        message = (
            f"The credit balance of {org.name} is {format_usd(org.credit_balance_pico)}, "
            f"below its alert threshold of {format_usd(threshold)}. Add credit so that "
            "requests keep being served."
        )
        return Alert.objects.create(
            organization=org, kind=AlertKind.LOW_BALANCE, message=message, created_at=now
        )


# --- Spend spike ------------------------------------------------------------------------


@dataclass(frozen=True)
class Spend:
    last_hour_pico: int
    trailing_pico: int
    # The hours the trailing average is over (≥ 1): the window, or the organization's age.
    trailing_hours: Decimal

    @property
    def hourly_average_pico(self) -> int:
        return int(self.trailing_pico / self.trailing_hours)

    def is_spike(self) -> bool:
        # last > factor × trailing / hours, kept exact (no division, no float).
        return (
            self.last_hour_pico >= spike_min_pico()
            and self.last_hour_pico * self.trailing_hours > spike_factor() * self.trailing_pico
        )


def spend_by_organization(*, now: datetime) -> dict[int, Spend]:
    """The spend of every organization that spent at least the minimum in the last hour.

    Two grouped queries: the last hour of all usage (the created_at index), then the
    trailing window of the few candidates only (the organization, -created_at index)."""
    hour_ago = now - HOUR
    last_hour = dict(
        UsageRecord.objects.filter(created_at__gt=hour_ago, created_at__lte=now)
        .values("organization_id")
        .annotate(spent=Sum("cost_pico"))
        .filter(spent__gte=spike_min_pico())
        .values_list("organization_id", "spent")
    )
    if not last_hour:
        return {}
    window_start = hour_ago - spike_trailing()
    trailing = dict(
        UsageRecord.objects.filter(
            organization_id__in=last_hour,
            created_at__gt=window_start,
            created_at__lte=hour_ago,
        )
        .values("organization_id")
        .annotate(spent=Sum("cost_pico"))
        .values_list("organization_id", "spent")
    )
    created = dict(Organization.objects.filter(pk__in=last_hour).values_list("pk", "created_at"))
    out = {}
    for organization_id, spent in last_hour.items():
        if organization_id not in created:
            continue  # deleted since
        since = max(created[organization_id], window_start)
        hours = max(Decimal(1), Decimal((hour_ago - since).total_seconds()) / 3600)
        out[organization_id] = Spend(
            last_hour_pico=spent,
            trailing_pico=trailing.get(organization_id) or 0,
            trailing_hours=hours,
        )
    return out


def spend_spike_check(*, now: datetime) -> list[Alert]:
    spikes = {
        organization_id: spend
        for organization_id, spend in spend_by_organization(now=now).items()
        if spend.is_spike()
    }
    open_for = _open_alert_orgs(AlertKind.SPEND_SPIKE)
    _resolve(kind=AlertKind.SPEND_SPIKE, organization_ids=open_for - set(spikes), now=now)
    raised = []
    for organization_id in sorted(set(spikes) - open_for):
        alert = _spend_spike_raise(
            organization_id=organization_id, spend=spikes[organization_id], now=now
        )
        if alert is not None:
            raised.append(alert)
    return raised


def _spend_spike_raise(*, organization_id: int, spend: Spend, now: datetime) -> Alert | None:
    with transaction.atomic():
        org = _locked(organization_id, kind=AlertKind.SPEND_SPIKE)
        if org is None:
            return None
        average = spend.hourly_average_pico
        if average:
            times = (Decimal(spend.last_hour_pico) / average).quantize(Decimal(1))
            compared = f"{times}× its average of {format_usd(average)} an hour"
        else:
            compared = "with no spend before it"
        message = (
            f"{org.name} spent {format_usd(spend.last_hour_pico)} in the last hour, {compared}."
        )
        if org.pause_keys_on_spike:
            # Only when raising: a key an admin resumes during the episode stays resumed.
            paused = keys_pause_spending(organization=org, since=now - HOUR, now=now)
            message += " " + _paused_text(paused)
        else:
            message += " Check which keys made it under API keys."
        return Alert.objects.create(
            organization=org,
            kind=AlertKind.SPEND_SPIKE,
            message=_truncated(message),
            created_at=now,
        )


def keys_pause_spending(
    *, organization: Organization, since: datetime, now: datetime
) -> list[APIKey]:
    """Pauses the organization's working keys that spent since `since`; returns them.
    The proxy refuses a paused key (403 key_paused) once its key cache expires (2 s)."""
    spending = (
        UsageRecord.objects.filter(organization=organization, created_at__gt=since, cost_pico__gt=0)
        .exclude(api_key=None)
        .values("api_key_id")
        .distinct()
    )
    keys = list(
        APIKey.objects.filter(organization=organization, pk__in=spending, paused_at=None)
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=now))
        .order_by("name", "pk")
    )
    APIKey.objects.filter(pk__in=[k.pk for k in keys], paused_at=None).update(paused_at=now)
    return keys


def _paused_text(keys: list[APIKey]) -> str:
    if not keys:
        return "No key was paused: none of those that spent is still working."
    names = ", ".join(f"{k.name} ({k.prefix}…)" for k in keys)
    noun = "this key" if len(keys) == 1 else f"these {len(keys)} keys"
    return f"Paused {noun}: {names}. An admin can resume them under API keys."


def _truncated(message: str) -> str:
    return message if len(message) <= MESSAGE_MAX else message[: MESSAGE_MAX - 1] + "…"


# --- Both -------------------------------------------------------------------------------


def _open_alert_orgs(kind: str) -> set[int]:
    return set(
        Alert.objects.filter(kind=kind, resolved_at=None).values_list("organization_id", flat=True)
    )


def _resolve(*, kind: str, organization_ids: set[int], now: datetime) -> None:
    if organization_ids:
        Alert.objects.filter(
            kind=kind, organization_id__in=organization_ids, resolved_at=None
        ).update(resolved_at=now)


def _locked(organization_id: int, *, kind: str) -> Organization | None:
    """The organization, row-locked for this transaction, or None when it is gone or
    already has an open alert of `kind` (another run raised it meanwhile)."""
    org = Organization.objects.select_for_update().filter(pk=organization_id).first()
    if org is None:
        return None
    if Alert.objects.filter(organization=org, kind=kind, resolved_at=None).exists():
        return None
    return org


# --- Email ------------------------------------------------------------------------------


def alerts_unsent() -> list[int]:
    """Open alerts whose email has not gone out: the check task (re)sends them, so a lost
    task message or a failed send is retried a minute later."""
    return list(
        Alert.objects.filter(emailed_at=None, resolved_at=None)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def alert_email_send(*, alert_id: int) -> int:
    """Emails an open alert to each owner of its organization, once; returns how many
    emails went out. The alert is claimed first, so two tasks for it send one email."""
    now = timezone.now()
    if not Alert.objects.filter(pk=alert_id, emailed_at=None, resolved_at=None).update(
        emailed_at=now
    ):
        return 0
    alert = Alert.objects.select_related("organization").get(pk=alert_id)
    org = alert.organization
    owners = list(
        User.objects.filter(
            membership__organization=org, membership__role=Role.OWNER, is_active=True
        )
        .order_by("email")
        .values_list("email", flat=True)
    )
    context = {
        "alert": alert,
        "organization": org,
        "link": settings.PORTAL_URL.rstrip("/") + reverse("dashboard", args=[org.slug]),
    }
    subject = " ".join(render_to_string("billing/email/alert_subject.txt", context).split())
    body = render_to_string("billing/email/alert_body.txt", context)
    try:
        send_mass_mail([(subject, body, None, [email]) for email in owners])
    except Exception:
        # Unclaimed, so that the next check sends it again.
        Alert.objects.filter(pk=alert_id, emailed_at=now).update(emailed_at=None)
        raise
    return len(owners)


# --- The portal banner ------------------------------------------------------------------


def alerts_open_for(*, user: User, slug: str, hidden: Sequence[int] = ()) -> QuerySet[Alert]:
    """The open alerts of organization `slug`, if `user` is a member of it; else none.
    Lazy: a page that shows no banner runs no query."""
    return (
        Alert.objects.filter(
            organization__slug=slug,
            organization__membership__user=user,
            resolved_at=None,
        )
        .exclude(pk__in=list(hidden))
        .select_related("organization")
        .order_by("-created_at", "-pk")
    )
