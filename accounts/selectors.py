"""Reads, always scoped by the requester's organization."""

from django.db.models import Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts import keys
from accounts.models import APIKey, Invitation, Membership, Organization, User


def memberships_of(*, user: User) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name")
    )


def membership_get(*, user: User, slug: str) -> Membership:
    """The user's membership of the organization `slug`; 404 when there is none, so that
    another tenant's organizations cannot even be told apart from missing ones."""
    try:
        return Membership.objects.select_related("organization").get(
            user=user, organization__slug=slug
        )
    except Membership.DoesNotExist:
        raise Http404("No such organization.") from None


def api_keys_of(*, organization: Organization) -> QuerySet[APIKey]:
    return (
        APIKey.objects.filter(organization=organization)
        .select_related("created_by")
        .order_by("-created_at")
    )


def api_key_get(*, organization: Organization, key_id: int) -> APIKey:
    try:
        return APIKey.objects.select_related("created_by").get(organization=organization, pk=key_id)
    except (APIKey.DoesNotExist, ValueError, TypeError):
        raise Http404("No such key.") from None


def members_of(*, organization: Organization) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("created_at")
    )


def member_get(*, organization: Organization, membership_id: int) -> Membership:
    try:
        return Membership.objects.select_related("user").get(
            organization=organization, pk=membership_id
        )
    except (Membership.DoesNotExist, ValueError, TypeError):
        raise Http404("No such member.") from None


def invitation_get(*, organization: Organization, invitation_id: int) -> Invitation:
    """404 for another organization's invitation, like a missing one."""
    return get_object_or_404(Invitation, organization=organization, pk=invitation_id)


def open_invitations_of(*, organization: Organization) -> QuerySet[Invitation]:
    return Invitation.objects.filter(organization=organization, accepted_at=None).order_by(
        "-created_at"
    )


def api_key_by_secret(secret: str) -> APIKey | None:
    """The key a presented secret belongs to, active or not; None for an unknown secret."""
    if not secret:
        return None
    candidate = keys.digest(secret)
    key = APIKey.objects.select_related("organization").filter(digest=candidate).first()
    if key is None or not keys.digests_match(key.digest, candidate):
        return None
    return key


def api_keys_active_count(*, organization: Organization) -> int:
    """Keys that work right now, including rotated keys still in their grace period."""
    now = timezone.now()
    return (
        APIKey.objects.filter(organization=organization)
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=now))
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .count()
    )
