"""Writes for organizations, memberships, invitations and API keys."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts import keys
from accounts.errors import Conflict, DomainError, NotAllowed
from accounts.models import APIKey, Invitation, Membership, Organization, Role, User
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
        # Keys stop working at once; the organization's ledger is kept (PROTECT), so the
        # tenant is emptied rather than erased.
        APIKey.objects.filter(organization=org, revoked_at=None).update(revoked_at=timezone.now())
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
    invitation = Invitation.objects.create(
        organization=org,
        email=email,
        role=role,
        token_digest=keys.digest(token),
        invited_by=membership.user,
        expires_at=timezone.now() + INVITATION_TTL,
    )
    from accounts.tasks import invitation_send  # the task module imports services

    transaction.on_commit(lambda: invitation_send.delay(invitation.pk, token))
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


def membership_remove(*, acting: Membership, target: Membership) -> None:
    leaving = acting.pk == target.pk
    if not leaving and not acting.can_manage:
        raise NotAllowed("Only an admin or owner can remove members.")
    if target.is_owner and not acting.is_owner:
        raise NotAllowed("Only an owner can remove an owner.")
    if target.is_owner:
        _ensure_another_owner(target)
    target.delete()


def _ensure_another_owner(target: Membership) -> None:
    others = Membership.objects.filter(organization_id=target.organization_id, role=Role.OWNER)
    if not others.exclude(pk=target.pk).exists():
        raise DomainError("An organization needs an owner; make someone else owner first.")


# --- API keys ---------------------------------------------------------------------------


@dataclass(frozen=True)
class NewKey:
    key: APIKey
    secret: str  # shown once, never stored


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
    is_management: bool = False,
    rotated_from: APIKey | None = None,
) -> NewKey:
    name = name.strip()
    if not name:
        raise DomainError("Give the key a name, so you can tell it apart later.")
    if expires_at is not None and expires_at <= timezone.now():
        raise DomainError("The expiry must lie in the future.")
    for label, value in (("RPM", rpm_limit), ("TPM", tpm_limit), ("Budget", budget_pico)):
        if value is not None and value < 0:
            raise DomainError(f"{label} limit cannot be negative.")
    models = sorted({m.strip() for m in allowed_models or [] if m and m.strip()})
    secret = keys.new_secret()
    key = APIKey.objects.create(
        organization=organization,
        name=name[:100],
        prefix=keys.visible_prefix(secret),
        digest=keys.digest(secret),
        created_by=created_by,
        expires_at=expires_at,
        allowed_models=models,
        rpm_limit=rpm_limit,
        tpm_limit=tpm_limit,
        budget_pico=budget_pico,
        is_management=is_management,
        rotated_from=rotated_from,
    )
    return NewKey(key=key, secret=secret)


def _check_may_change_key(acting: Membership | None, key: APIKey) -> None:
    """Admins and owners change any key of the organization; members only their own."""
    if acting is None:  # an operator command
        return
    if acting.organization_id != key.organization_id:
        raise NotAllowed("That key belongs to another organization.")
    if not acting.can_manage and key.created_by_id != acting.user_id:
        raise NotAllowed("Members can only change keys they created; ask an admin.")


def api_key_revoke(*, key: APIKey, acting: Membership | None = None) -> APIKey:
    _check_may_change_key(acting, key)
    now = timezone.now()
    if key.revoked_at is None or key.revoked_at > now:
        key.revoked_at = now
        key.save(update_fields=["revoked_at"])
    return key


def api_key_rotate(
    *, key: APIKey, acting: Membership | None = None, grace: timedelta = timedelta(0)
) -> NewKey:
    """A new secret with the same settings; the old key stops working after `grace`."""
    _check_may_change_key(acting, key)
    if not key.is_active():
        raise DomainError("Only an active key can be rotated; create a new key instead.")
    if grace < timedelta(0) or grace > timedelta(days=30):
        raise DomainError("The grace period must be between 0 and 30 days.")
    with transaction.atomic():
        new = api_key_create(
            organization=key.organization,
            name=key.name,
            created_by=acting.user if acting else key.created_by,
            expires_at=key.expires_at,
            allowed_models=key.allowed_models,
            rpm_limit=key.rpm_limit,
            tpm_limit=key.tpm_limit,
            budget_pico=key.budget_pico,
            is_management=key.is_management,
            rotated_from=key,
        )
        key.revoked_at = timezone.now() + grace
        key.save(update_fields=["revoked_at"])
    return new


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
