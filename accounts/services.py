"""Writes for organizations, memberships and invitations; API keys' are in
accounts.key_services, re-exported here for the callers that import them from here."""

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts import keys, limits
from accounts.errors import Conflict, DomainError, FieldError, NotAllowed
from accounts.key_services import (  # noqa: F401  the API keys' services, re-exported
    NewKey,
    api_key_create,
    api_key_create_as,
    api_key_resume,
    api_key_revoke,
    api_key_revoke_by_prefix,
    api_key_rotate,
    api_key_update,
    api_keys_reassign,
    api_keys_revoke_all,
    api_keys_revoke_created_by,
)
from accounts.limits import UNCHANGED, Unchanged
from accounts.models import Invitation, Membership, Organization, Role, User
from accounts.signals import organization_signed_up

INVITATION_TTL = timedelta(days=7)


# --- Organizations ----------------------------------------------------------------------


def _unique_slug(name: str) -> str:
    base = slugify(name)[:50] or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def organization_create(*, name: str, owner: User | None, slug: str | None = None) -> Organization:
    name = name.strip()
    if not name:
        raise DomainError("Give the organization a name.")
    with transaction.atomic():
        org = Organization.objects.create(name=name[:100], slug=slug or _unique_slug(name))
        if owner is not None:
            Membership.objects.create(user=owner, organization=org, role=Role.OWNER)
    return org


def organization_rename(*, membership: Membership, name: str) -> Organization:
    if not membership.can_manage:
        raise NotAllowed("Only an admin or owner can rename the organization.")
    name = name.strip()
    if not name:
        raise DomainError("Give the organization a name.")
    org = membership.organization
    org.name = name[:100]
    org.save(update_fields=["name"])
    return org


def organization_delete(*, membership: Membership) -> None:
    if not membership.is_owner:
        raise NotAllowed("Only an owner can delete the organization.")
    org = membership.organization
    if Membership.objects.filter(user=membership.user).count() == 1:
        raise DomainError(
            "This is your only organization; create another one before deleting this one."
        )
    with transaction.atomic():
        # Keys stop working at once, those in a rotation's grace period too; the
        # organization's ledger is kept (PROTECT), so the tenant is emptied, not erased.
        api_keys_revoke_all(organization=org)
        Membership.objects.filter(organization=org).delete()
        Invitation.objects.filter(organization=org).delete()


def signup_organization_create(*, user: User) -> Organization:
    """A new sign-up's own organization. The starting credit is billing's to grant: it
    answers `organization_signed_up` (accounts may not import the ledger)."""
    local = user.email.split("@")[0]
    with transaction.atomic():
        org = organization_create(name=f"{local}'s organization", owner=user)
        organization_signed_up.send(sender=Organization, organization=org, user=user)
    return org


# --- Members and invitations ------------------------------------------------------------


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    token: str  # the secret of the link, known only to the email


def invitation_create(
    *, membership: Membership, email: str, role: str = Role.MEMBER
) -> NewInvitation:
    if not membership.can_manage:
        raise NotAllowed("Only an admin or owner can invite members.")
    if role not in Role.values:
        raise DomainError(f"Role must be one of {', '.join(Role.values)}.")
    if role == Role.OWNER and not membership.is_owner:
        raise NotAllowed("Only an owner can invite another owner.")
    email = email.strip().lower()
    org = membership.organization
    if Membership.objects.filter(organization=org, user__email__iexact=email).exists():
        raise Conflict(f"{email} is already a member of {org.name}.")
    token = secrets.token_urlsafe(32)
    with transaction.atomic():
        # Inviting the same address again replaces its unused invitation (the earlier
        # link stops working) instead of piling up another one.
        Invitation.objects.filter(organization=org, email__iexact=email, accepted_at=None).delete()
        invitation = Invitation.objects.create(
            organization=org,
            email=email,
            role=role,
            token_digest=keys.digest(token),
            invited_by=membership.user,
            expires_at=timezone.now() + INVITATION_TTL,
        )
    _send_on_commit(invitation, token)
    return NewInvitation(invitation=invitation, token=token)


def _send_on_commit(invitation: Invitation, token: str) -> None:
    from accounts.tasks import invitation_send  # the task module imports services

    transaction.on_commit(lambda: invitation_send.delay(invitation.pk, token))


def _invitation_managed(membership: Membership, invitation: Invitation, what: str) -> None:
    if invitation.organization_id != membership.organization_id:
        raise NotAllowed("That invitation belongs to another organization.")
    if not membership.can_manage:
        raise NotAllowed(f"Only an admin or owner can {what} invitations.")
    if invitation.role == Role.OWNER and not membership.is_owner:
        raise NotAllowed(f"Only an owner can {what} an invitation to be an owner.")
    if invitation.accepted_at is not None:
        raise Conflict(f"{invitation.email} already accepted this invitation.")


def invitation_cancel(*, membership: Membership, invitation: Invitation) -> None:
    """The link stops working at once."""
    _invitation_managed(membership, invitation, "cancel")
    invitation.delete()


def invitation_resend(*, membership: Membership, invitation: Invitation) -> NewInvitation:
    """A new link, valid for INVITATION_TTL from now, emailed again; the old one stops
    working."""
    _invitation_managed(membership, invitation, "resend")
    token = secrets.token_urlsafe(32)
    invitation.token_digest = keys.digest(token)
    invitation.expires_at = timezone.now() + INVITATION_TTL
    invitation.sent_at = None
    invitation.invited_by = membership.user
    invitation.save(update_fields=["token_digest", "expires_at", "sent_at", "invited_by"])
    _send_on_commit(invitation, token)
    return NewInvitation(invitation=invitation, token=token)


def invitation_by_token(token: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("organization", "invited_by")
        .filter(token_digest=keys.digest(token))
        .first()
    )


def invitation_accept(*, token: str, user: User) -> Membership:
    invitation = invitation_by_token(token)
    if invitation is None or not invitation.is_open:
        raise DomainError("This invitation link is invalid or has expired; ask for a new one.")
    if invitation.email.lower() != user.email.lower():
        raise NotAllowed(
            f"This invitation is for {invitation.email}; sign in with that address to accept it."
        )
    with transaction.atomic():
        membership, _created = Membership.objects.get_or_create(
            user=user, organization=invitation.organization, defaults={"role": invitation.role}
        )
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
    return membership


def membership_set_role(*, acting: Membership, target: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise DomainError(f"Role must be one of {', '.join(Role.values)}.")
    if not acting.can_manage:
        raise NotAllowed("Only an admin or owner can change roles.")
    if (role == Role.OWNER or target.is_owner) and not acting.is_owner:
        raise NotAllowed("Only an owner can make or unmake owners.")
    if target.is_owner and role != Role.OWNER:
        _ensure_another_owner(target)
    target.role = role
    target.save(update_fields=["role"])
    return target


KeysOnRemoval = Literal["revoke", "reassign"]


def membership_remove(
    *, acting: Membership, target: Membership, keys: KeysOnRemoval = "revoke"
) -> int:
    """Removes a member (or lets one leave) and settles the keys they created here, which
    would otherwise keep working for someone outside: revoked, or (`keys="reassign"`,
    when someone else removes them) handed to the remover. Returns how many keys."""
    if keys not in ("revoke", "reassign"):
        raise DomainError("Choose what happens to the member's keys: revoke or reassign.")
    leaving = acting.pk == target.pk
    if not leaving and not acting.can_manage:
        raise NotAllowed("Only an admin or owner can remove members.")
    if target.is_owner and not acting.is_owner:
        raise NotAllowed("Only an owner can remove an owner.")
    if target.is_owner:
        _ensure_another_owner(target)
    org = target.organization
    with transaction.atomic():
        if keys == "reassign" and not leaving:
            changed = api_keys_reassign(
                organization=org, from_user=target.user, to_user=acting.user
            )
        else:
            changed = api_keys_revoke_created_by(organization=org, user=target.user)
        target.delete()
    return changed


def _ensure_another_owner(target: Membership) -> None:
    others = Membership.objects.filter(organization_id=target.organization_id, role=Role.OWNER)
    if not others.exclude(pk=target.pk).exists():
        raise DomainError("An organization needs an owner; make someone else owner first.")


# --- The organization's caps and alerts ---------------------------------------------


def _check_may_manage(acting: Membership | None, organization: Organization, what: str) -> None:
    if acting is None:  # an operator command
        return
    if acting.organization_id != organization.pk:
        raise NotAllowed("That is another organization.")
    if not acting.can_manage:
        raise NotAllowed(f"Only an admin or owner can change {what}.")


def organization_set_limits(
    *,
    organization: Organization,
    acting: Membership | None = None,
    rpm_limit: int | Unchanged | None = UNCHANGED,
    tpm_limit: int | Unchanged | None = UNCHANGED,
    monthly_cap_pico: int | Unchanged | None = UNCHANGED,
) -> Organization:
    """The organization's own caps over all its keys (setlimits, the settings page);
    only the given ones change, None clears one. The proxy sees them within its key
    cache's TTL."""
    _check_may_manage(acting, organization, "the organization's limits")
    changes = {}
    if rpm_limit is not UNCHANGED:
        changes["rpm_limit"] = limits.count("rpm_limit", rpm_limit)
    if tpm_limit is not UNCHANGED:
        changes["tpm_limit"] = limits.count("tpm_limit", tpm_limit)
    if monthly_cap_pico is not UNCHANGED:
        changes["monthly_cap_pico"] = limits.amount("monthly_cap_usd", monthly_cap_pico)
    for field, value in changes.items():
        setattr(organization, field, value)
    if changes:
        organization.save(update_fields=list(changes))
    return organization


def organization_set_alerts(
    *,
    organization: Organization,
    acting: Membership | None = None,
    low_balance_threshold_pico: int | None,
    pause_keys_on_spike: bool,
) -> Organization:
    """When the owners hear of a low balance (None: never), and whether a spend spike
    also pauses the keys that made it (billing.alerts reads both)."""
    _check_may_manage(acting, organization, "the alerts")
    organization.low_balance_threshold_pico = limits.amount(
        "low_balance_threshold_usd", low_balance_threshold_pico
    )
    organization.pause_keys_on_spike = bool(pause_keys_on_spike)
    organization.save(update_fields=["low_balance_threshold_pico", "pause_keys_on_spike"])
    return organization


RETENTION_DAYS = (1, 7, 30, 90)


def organization_set_logging(
    *,
    organization: Organization,
    acting: Membership | None = None,
    log_bodies: bool,
    body_retention_days: int,
) -> Organization:
    """Whether the gateway stores each request's prompt and answer, and for how many days
    (billing.bodies purges what is older). The proxy reads it with the key, so it applies
    within the key cache's TTL (2 s)."""
    _check_may_manage(acting, organization, "request logging")
    if body_retention_days not in RETENTION_DAYS:
        raise FieldError(
            "body_retention_days",
            f"Keep bodies for one of {', '.join(map(str, RETENTION_DAYS))} days.",
        )
    organization.log_bodies = bool(log_bodies)
    organization.body_retention_days = body_retention_days
    organization.save(update_fields=["log_bodies", "body_retention_days"])
    return organization


# --- Management keys --------------------------------------------------------------------


@dataclass(frozen=True)
class KeyActing:
    """How a management key acts where services take an `acting` membership: as an admin of
    its own organization with no person behind it, so nothing is attributed to a user.
    It offers the attributes of Membership that services read; it is never saved."""

    organization: Organization
    role: str = Role.ADMIN
    user: None = None
    user_id: None = None
    pk: None = None

    @property
    def organization_id(self) -> int:
        return self.organization.pk

    @property
    def can_manage(self) -> bool:
        return True

    @property
    def is_owner(self) -> bool:
        return False
