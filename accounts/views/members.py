"""Members: the list, inviting, changing roles, removing and leaving."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.errors import DomainError, NotAllowed
from accounts.forms import InviteForm, MemberRemoveForm, RoleForm
from accounts.models import Membership, Role
from accounts.views.access import forget_organization, member_view


@member_view
def member_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    """GET: members and open invitations. POST: invite someone by email."""
    form = InviteForm(request.POST if request.method == "POST" else None)
    if not membership.is_owner:  # only owners invite owners: not offered to admins
        form.fields["role"].choices = [c for c in Role.choices if c[0] != Role.OWNER]
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(membership=membership, **form.cleaned_data)
        except NotAllowed:
            raise
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            email = form.cleaned_data["email"]
            messages.success(request, f"Sent an invitation to {email}; it is valid for 7 days.")
            return redirect("members", slug=membership.organization.slug)
    org = membership.organization
    context = {
        "membership": membership,
        "members": selectors.members_of(organization=org),
        "invitations": selectors.open_invitations_of(organization=org),
        "form": form,
        "role_choices": RoleForm.base_fields["role"].choices,
    }
    return render(request, "accounts/members.html", context, status=400 if form.errors else 200)


@require_POST
@member_view
def invitation_cancel(
    request: HttpRequest, membership: Membership, invitation_id: int
) -> HttpResponse:
    org = membership.organization
    invitation = selectors.invitation_get(organization=org, invitation_id=invitation_id)
    try:
        services.invitation_cancel(membership=membership, invitation=invitation)
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Cancelled the invitation of {invitation.email}; its link no longer works."
        )
    return redirect("members", slug=org.slug)


@require_POST
@member_view
def invitation_resend(
    request: HttpRequest, membership: Membership, invitation_id: int
) -> HttpResponse:
    org = membership.organization
    invitation = selectors.invitation_get(organization=org, invitation_id=invitation_id)
    try:
        services.invitation_resend(membership=membership, invitation=invitation)
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            f"Sent a new invitation to {invitation.email}, valid for 7 days; "
            "the earlier link no longer works.",
        )
    return redirect("members", slug=org.slug)


@require_POST
@member_view
def member_role(request: HttpRequest, membership: Membership, membership_id: int) -> HttpResponse:
    org = membership.organization
    target = selectors.member_get(organization=org, membership_id=membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick one of the listed roles, then save again.")
        return redirect("members", slug=org.slug)
    try:
        services.membership_set_role(
            acting=membership, target=target, role=form.cleaned_data["role"]
        )
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{target.user.email} is now {target.get_role_display()}.")
    return redirect("members", slug=org.slug)


@require_POST
@member_view
def member_remove(request: HttpRequest, membership: Membership, membership_id: int) -> HttpResponse:
    org = membership.organization
    target = selectors.member_get(organization=org, membership_id=membership_id)
    return _remove(request, membership, target)


@require_POST
@member_view
def org_leave(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _remove(request, membership, membership)


def _remove(request: HttpRequest, acting: Membership, target: Membership) -> HttpResponse:
    """Leaving revokes your keys here; removing someone revokes theirs or, if the remover
    chose so, makes them the remover's."""
    org = acting.organization
    leaving = target.pk == acting.pk
    form = MemberRemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose whether to revoke or reassign their keys, then remove.")
        return redirect("members", slug=org.slug)
    choice = "revoke" if leaving else form.cleaned_data["keys"]
    try:
        count = services.membership_remove(acting=acting, target=target, keys=choice)
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("members", slug=org.slug)
    if leaving:
        forget_organization(request)
        mine = f" Revoked {_keys(count)} you created there." if count else ""
        messages.success(request, f"You left {org.name}.{mine}")
        return redirect("home")
    done = (
        f"Reassigned {_keys(count)} they created to you"
        if choice == "reassign"
        else (f"Revoked {_keys(count)} they created")
    )
    theirs = f" {done}." if count else ""
    messages.success(request, f"Removed {target.user.email} from {org.name}.{theirs}")
    return redirect("members", slug=org.slug)


def _keys(count: int) -> str:
    return "1 key" if count == 1 else f"{count} keys"
