"""Writes for API keys: minting, limits, revoking, rotating, pausing and who owns them.

Every value is checked (accounts.limits) before a secret exists or a row is written, so a
refused request leaves nothing behind and no error page can show a new secret.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import keys, limits, signals
from accounts.errors import Conflict, DomainError, NotAllowed
from accounts.limits import UNCHANGED, Unchanged
from accounts.models import APIKey, Membership, Organization, User

MAX_GRACE = timedelta(days=30)


@dataclass(frozen=True)
class NewKey:
    key: APIKey
    secret: str = field(repr=False)  # shown once, never stored, never in a repr or a log


@sensitive_variables("secret")
def api_key_create(
    *,
    organization: Organization,
    name: str,
    created_by: User | None = None,
    expires_at: datetime | None = None,
    allowed_models: list[str] | None = None,
    rpm_limit: int | None = None,
    tpm_limit: int | None = None,
    budget_pico: int | None = None,
    budget_period: str | None = None,
    allowed_ips: list[str] | None = None,
    max_price_micros: int | None = None,
    is_management: bool = False,
    rotated_from: APIKey | None = None,
) -> NewKey:
    """Mints a key; FieldError (naming the field) before anything exists when a value is
    out of range."""
    fields = limits.key_fields(
        name=name,
        expires_at=expires_at,
        allowed_models=allowed_models,
        rpm_limit=rpm_limit,
        tpm_limit=tpm_limit,
        budget_pico=budget_pico,
        budget_period=budget_period,
        allowed_ips=allowed_ips,
        max_price_micros=max_price_micros,
    )
    secret = keys.new_secret()
    try:
        key = APIKey.objects.create(
            organization=organization,
            prefix=keys.visible_prefix(secret),
            digest=keys.digest(secret),
            created_by=created_by,
            is_management=is_management,
            rotated_from=rotated_from,
            **fields,
        )
    except BaseException:
        # Out of this frame before the error page reads it: sensitive_variables covers
        # reports without DEBUG only, and Django's debug page shows every local.
        del secret
        raise
    return NewKey(key=key, secret=secret)


def api_key_create_as(*, membership: Membership, is_management: bool = False, **fields) -> NewKey:
    """A key created by a member of the organization (the portal and the session API).
    Any member may create keys; management keys are for admins and owners only."""
    if is_management and not membership.can_manage:
        raise NotAllowed("Only an admin or owner can create management keys.")
    return api_key_create(
        organization=membership.organization,
        created_by=membership.user,
        is_management=is_management,
        **fields,
    )


def _check_may_change_key(acting: Membership | None, key: APIKey) -> None:
    """Admins and owners change any key of the organization; members only their own."""
    if acting is None:  # an operator command, or a management key already scoped to the org
        return
    if acting.organization_id != key.organization_id:
        raise NotAllowed("That key belongs to another organization.")
    if not acting.can_manage and key.created_by_id != acting.user_id:
        raise NotAllowed("Members can only change keys they created; ask an admin.")


def api_key_update(
    *,
    key: APIKey,
    acting: Membership | None = None,
    name: str | Unchanged = UNCHANGED,
    allowed_models: list[str] | Unchanged | None = UNCHANGED,
    rpm_limit: int | Unchanged | None = UNCHANGED,
    tpm_limit: int | Unchanged | None = UNCHANGED,
    budget_pico: int | Unchanged | None = UNCHANGED,
    budget_period: str | Unchanged | None = UNCHANGED,
    allowed_ips: list[str] | Unchanged | None = UNCHANGED,
    expires_at: datetime | Unchanged | None = UNCHANGED,
    max_price_micros: int | Unchanged | None = UNCHANGED,
) -> APIKey:
    """Changes only the fields given; None clears a limit (no budget, all models, anywhere,
    no expiry, a total budget period). The proxy sees it within its key cache's TTL."""
    _check_may_change_key(acting, key)
    given = {
        "name": name,
        "allowed_models": allowed_models,
        "rpm_limit": rpm_limit,
        "tpm_limit": tpm_limit,
        "budget_pico": budget_pico,
        "budget_period": budget_period,
        "allowed_ips": allowed_ips,
        "expires_at": expires_at,
        "max_price_micros": max_price_micros,
    }
    changes = limits.key_fields(**{f: v for f, v in given.items() if v is not UNCHANGED})
    if key.status == "revoked":
        raise DomainError("This key is revoked and can no longer change; create a new key.")
    for name_, value in changes.items():
        setattr(key, name_, value)
    if changes:
        key.save(update_fields=list(changes))
    return key


def api_key_revoke(*, key: APIKey, acting: Membership | None = None) -> APIKey:
    _check_may_change_key(acting, key)
    now = timezone.now()
    if key.revoked_at is None or key.revoked_at > now:
        key.revoked_at = now
        key.save(update_fields=["revoked_at"])
    return key


def api_key_resume(*, key: APIKey, acting: Membership | None = None) -> APIKey:
    """Lifts a spend-spike pause. Admins and owners only: the pause protects the
    organization's money, so the key's own creator may not lift it alone."""
    if acting is not None:
        if acting.organization_id != key.organization_id:
            raise NotAllowed("That key belongs to another organization.")
        if not acting.can_manage:
            raise NotAllowed("Only an admin or owner can resume a paused key.")
    if key.paused_at is not None:
        key.paused_at = None
        key.save(update_fields=["paused_at"])
    return key


def api_key_rotate(
    *, key: APIKey, acting: Membership | None = None, grace: timedelta = timedelta(0)
) -> NewKey:
    """A new secret with the same settings; the old key stops working after `grace`.

    A key has one successor: rotating one that was already rotated is a Conflict naming
    the successor, which is the key to rotate. The row lock (and, in a race the lock does
    not cover, the one-to-one constraint) makes two rotations at once end the same way.
    """
    _check_may_change_key(acting, key)
    if grace < timedelta(0) or grace > MAX_GRACE:
        raise DomainError("The grace period must be between 0 and 30 days.")
    with transaction.atomic():
        locked = APIKey.objects.select_for_update().get(pk=key.pk)
        _check_not_rotated(locked)
        if not locked.is_active():
            raise DomainError("Only an active key can be rotated; create a new key instead.")
        try:
            with transaction.atomic():
                new = api_key_create(
                    organization=locked.organization,
                    name=locked.name,
                    created_by=acting.user if acting else locked.created_by,
                    expires_at=locked.expires_at,
                    allowed_models=locked.allowed_models,
                    rpm_limit=locked.rpm_limit,
                    tpm_limit=locked.tpm_limit,
                    budget_pico=locked.budget_pico,
                    budget_period=locked.budget_period,
                    allowed_ips=locked.allowed_ips,
                    max_price_micros=locked.max_price_micros,
                    is_management=locked.is_management,
                    rotated_from=locked,
                )
        except IntegrityError:
            _check_not_rotated(locked)
            raise
        if locked.paused_at is not None:  # a new secret does not lift a pause
            new.key.paused_at = locked.paused_at
            new.key.save(update_fields=["paused_at"])
        key.revoked_at = timezone.now() + grace
        key.save(update_fields=["revoked_at"])
        signals.key_rotated.send(sender=APIKey, old=locked, new=new.key)
    return new


def _check_not_rotated(key: APIKey) -> None:
    successor = APIKey.objects.filter(rotated_from=key).values_list("prefix", flat=True).first()
    if successor is not None:
        raise Conflict(
            f"This key was already rotated; its successor is {successor}…. Rotate that key instead."
        )


def api_key_revoke_by_prefix(*, prefix: str) -> APIKey:
    """For operators: the visible prefix names one key."""
    matches = list(APIKey.objects.filter(prefix__startswith=prefix)[:2]) if prefix else []
    if len(matches) != 1:
        raise DomainError(
            f"No key has the prefix {prefix!r}."
            if not matches
            else f"More than one key starts with {prefix!r}; give more of the prefix."
        )
    return api_key_revoke(key=matches[0])


# --- Keys of people and organizations that go --------------------------------------------


def _still_working(now: datetime) -> Q:
    """Not yet revoked, including keys in a rotation's grace period (revoked_at ahead)."""
    return Q(revoked_at__isnull=True) | Q(revoked_at__gt=now)


def _working_keys(organization: Organization, now: datetime) -> QuerySet[APIKey]:
    return APIKey.objects.filter(organization=organization).filter(_still_working(now))


def api_keys_revoke_all(*, organization: Organization) -> int:
    """Every key of the organization stops now, grace periods cut short; how many did."""
    now = timezone.now()
    return _working_keys(organization, now).update(revoked_at=now)


def api_keys_revoke_created_by(*, organization: Organization, user: User) -> int:
    """The keys `user` created in this organization stop now (a member removed or gone)."""
    now = timezone.now()
    return _working_keys(organization, now).filter(created_by=user).update(revoked_at=now)


def api_keys_reassign(*, organization: Organization, from_user: User, to_user: User | None) -> int:
    """The working keys `from_user` created here become `to_user`'s (None: no one's, as a
    management key's own keys are), so they keep working after `from_user` leaves."""
    now = timezone.now()
    keys_ = _working_keys(organization, now).filter(created_by=from_user)
    return keys_.update(created_by=to_user)
