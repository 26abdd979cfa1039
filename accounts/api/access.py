"""Which organization an /api/ request may act in, and as whom."""

from dataclasses import dataclass

from django.http import Http404
from rest_framework.request import Request

from accounts.api.authentication import ManagementPrincipal
from accounts.models import Membership, Organization
from accounts.selectors import membership_get
from accounts.services import KeyActing


@dataclass(frozen=True)
class OrgAccess:
    organization: Organization
    # What services receive as `acting`/`membership`: the caller's membership, or a
    # management key's admin stand-in.
    acting: Membership | KeyActing

    @property
    def key_acting(self) -> Membership | None:
        """The `acting` of key services. A management key passes None, the operator's path
        that skips the member-owns-key check: the key was already scoped to its organization."""
        return self.acting if isinstance(self.acting, Membership) else None


def org_access(request: Request, slug: str) -> OrgAccess:
    """404 for an organization the caller is not in, so other tenants' slugs don't leak."""
    principal = request.user
    if isinstance(principal, ManagementPrincipal):
        if principal.organization.slug != slug:
            raise Http404("No such organization.")
        return OrgAccess(principal.organization, KeyActing(organization=principal.organization))
    membership = membership_get(user=principal, slug=slug)
    return OrgAccess(membership.organization, membership)
