"""Home (a redirect to an organization's dashboard, which is dashboard.home), creating
an organization, and its settings."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.errors import DomainError, NotAllowed
from accounts.forms import (
    OrganizationAlertsForm,
    OrganizationDeleteForm,
    OrganizationForm,
    OrganizationLimitsForm,
    OrganizationLoggingForm,
)
from accounts.models import Membership
from accounts.views.access import LAST_ORG_SESSION_KEY, forget_organization, member_view


def home(request: HttpRequest) -> HttpResponse:
    """The last-used organization's dashboard, else the first one, else a new one."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    memberships = selectors.memberships_of(user=request.user)
    last = request.session.get(LAST_ORG_SESSION_KEY)
    chosen = memberships.filter(organization__slug=last).first() if last else None
    chosen = chosen or memberships.first()
    if chosen is None:
        return redirect("org_create")
    return redirect("dashboard", slug=chosen.organization.slug)


@login_required
def org_create(request: HttpRequest) -> HttpResponse:
    form = OrganizationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            org = services.organization_create(name=form.cleaned_data["name"], owner=request.user)
        except DomainError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, f"Created {org.name}. Next, create an API key.")
            return redirect("dashboard", slug=org.slug)
    status = 400 if form.errors else 200
    return render(request, "accounts/org_create.html", {"form": form}, status=status)


@member_view
def org_settings(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _settings_page(request, membership)


def _settings_page(
    request: HttpRequest,
    membership: Membership,
    rename_form: OrganizationForm | None = None,
    delete_form: OrganizationDeleteForm | None = None,
    limits_form: OrganizationLimitsForm | None = None,
    alerts_form: OrganizationAlertsForm | None = None,
    logging_form: OrganizationLoggingForm | None = None,
    status: int = 200,
) -> HttpResponse:
    org = membership.organization
    context = {
        "membership": membership,
        "rename_form": rename_form or OrganizationForm(initial={"name": org.name}),
        "delete_form": delete_form or OrganizationDeleteForm(slug=org.slug),
        "limits_form": limits_form or OrganizationLimitsForm.for_organization(org),
        "alerts_form": alerts_form or OrganizationAlertsForm.for_organization(org),
        "logging_form": logging_form or OrganizationLoggingForm.for_organization(org),
    }
    return render(request, "accounts/settings.html", context, status=status)


@require_POST
@member_view
def org_limits(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The organization's own RPM, TPM and monthly spend caps over all its keys."""
    return _save_settings(
        request, membership, OrganizationLimitsForm, services.organization_set_limits,
        "limits_form", "Saved the organization's limits.",
    )  # fmt: skip


@require_POST
@member_view
def org_alerts(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The low-balance threshold and whether a spend spike pauses keys."""
    return _save_settings(
        request, membership, OrganizationAlertsForm, services.organization_set_alerts,
        "alerts_form", "Saved the alert settings.",
    )  # fmt: skip


@require_POST
@member_view
def org_logging(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Whether prompts and answers are stored, and for how long."""
    return _save_settings(
        request, membership, OrganizationLoggingForm, services.organization_set_logging,
        "logging_form", "Saved the request logging settings.",
    )  # fmt: skip


def _save_settings(request, membership, form_class, service, form_name: str, saved: str):
    """One settings form posted: saved through its service, or shown again with errors."""
    org = membership.organization
    form = form_class.for_organization(org, request.POST)
    if form.is_valid():
        try:
            service(organization=org, acting=membership, **form.service_fields())
        except NotAllowed:
            raise
        except DomainError as exc:
            form.add_error(getattr(exc, "field", None), exc.message)
        else:
            messages.success(request, saved)
            return redirect("org_settings", slug=org.slug)
    return _settings_page(request, membership, status=400, **{form_name: form})


@require_POST
@member_view
def org_rename(request: HttpRequest, membership: Membership) -> HttpResponse:
    form = OrganizationForm(request.POST)
    if not form.is_valid():
        return _settings_page(request, membership, rename_form=form, status=400)
    try:
        org = services.organization_rename(membership=membership, name=form.cleaned_data["name"])
    except NotAllowed:
        raise
    except DomainError as exc:
        form.add_error("name", exc.message)
        return _settings_page(request, membership, rename_form=form, status=400)
    messages.success(request, f"Renamed the organization to {org.name}.")
    return redirect("org_settings", slug=org.slug)


@require_POST
@member_view
def org_delete(request: HttpRequest, membership: Membership) -> HttpResponse:
    org = membership.organization
    form = OrganizationDeleteForm(request.POST, slug=org.slug)
    if not form.is_valid():
        return _settings_page(request, membership, delete_form=form, status=400)
    try:
        services.organization_delete(membership=membership)
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("org_settings", slug=org.slug)
    forget_organization(request)
    messages.success(request, f"Deleted {org.name}; its keys no longer work.")
    return redirect("home")
