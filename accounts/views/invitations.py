"""Accepting an invitation from its emailed link."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts import services
from accounts.errors import DomainError, NotAllowed
from accounts.views.access import remember_organization


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """GET: what the invitation is for. POST: join the organization.

    Anonymous visitors are offered sign-in and sign-up links that bring them back here.
    """
    invitation = services.invitation_by_token(token)
    if invitation is None:
        return _invalid(request, "This invitation link is not valid; ask for a new one.", 404)
    if not invitation.is_open:
        return _invalid(
            request, "This invitation was already used or has expired; ask for a new one.", 400
        )
    context = {"invitation": invitation, "next": request.path}
    if not request.user.is_authenticated:
        return render(request, "accounts/invitation.html", context)
    if request.method == "POST":
        try:
            membership = services.invitation_accept(token=token, user=request.user)
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            return _invalid(request, exc.message, 400)
        remember_organization(request, membership)
        messages.success(request, f"Welcome to {membership.organization.name}.")
        return redirect("dashboard", slug=membership.organization.slug)
    context["wrong_user"] = invitation.email.lower() != request.user.email.lower()
    return render(request, "accounts/invitation.html", context)


def _invalid(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "accounts/invitation_invalid.html", {"message": message}, status=status)
