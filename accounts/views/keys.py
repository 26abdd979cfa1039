"""API keys: the list, creating, editing limits, revoking, rotating and resuming.

A new secret is rendered straight into the response to the POST that made it, never put
in the session, a URL, a message or a log: this response is the only time anyone sees it.
The create form carries a one-time token, so that reloading that response (the browser
posts the form again) does not mint a second key: a token already used redirects to the
list instead.
"""

import secrets
from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from accounts import key_services, key_spend, selectors
from accounts.errors import DomainError, NotAllowed
from accounts.forms import KeyCreateForm, KeyLimitsForm, KeyRotateForm
from accounts.models import APIKey, Membership
from accounts.views.access import member_view


@member_view
def key_list(request: HttpRequest, membership: Membership) -> HttpResponse:
    """GET: the keys and an empty form. POST: create a key and show its secret once."""
    form = KeyCreateForm(
        request.POST if request.method == "POST" else None,
        organization_id=membership.organization_id,
    )
    token = request.POST.get(CREATE_TOKEN_FIELD, "") if request.method == "POST" else ""
    if token and token in request.session.get(CREATE_TOKENS_SESSION_KEY, []):
        messages.info(
            request,
            "That key was already created, and its secret was shown once. If you did not "
            "copy it, rotate the key or create another.",
        )
        return redirect("keys", slug=membership.organization.slug)
    if request.method == "POST" and form.is_valid():
        try:
            new = key_services.api_key_create_as(membership=membership, **form.service_fields())
        except NotAllowed:
            raise
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            if token:
                used = request.session.get(CREATE_TOKENS_SESSION_KEY, [])
                request.session[CREATE_TOKENS_SESSION_KEY] = [*used, token][-CREATE_TOKENS_KEPT:]
            return _secret_page(request, membership, new, rotated=None)
    return _list_page(request, membership, form, status=400 if form.errors else 200, token=token)


CREATE_TOKEN_FIELD = "create_token"
CREATE_TOKENS_SESSION_KEY = "key_create_tokens"
CREATE_TOKENS_KEPT = 20


def _list_page(
    request: HttpRequest,
    membership: Membership,
    form: KeyCreateForm,
    status: int = 200,
    token: str = "",
) -> HttpResponse:
    context = {
        "membership": membership,
        "keys": key_spend.attach(list(selectors.api_keys_of(organization=membership.organization))),
        "form": form,
        "create_token": token or secrets.token_urlsafe(16),
    }
    return render(request, "accounts/keys.html", context, status=status)


def _secret_page(
    request: HttpRequest, membership: Membership, new: key_services.NewKey, rotated: APIKey | None
) -> HttpResponse:
    context = {"membership": membership, "key": new.key, "secret": new.secret, "rotated": rotated}
    response = render(request, "accounts/key_secret.html", context)
    add_never_cache_headers(response)  # no copy of the secret in any cache
    return response


@member_view
def key_edit(request: HttpRequest, membership: Membership, key_id: int) -> HttpResponse:
    """GET: the key's name and limits in a form. POST: change them (members: their own
    keys; admins and owners: any), effective in the proxy within seconds."""
    key = selectors.api_key_get(organization=membership.organization, key_id=key_id)
    key_spend.attach([key])
    may_edit = membership.can_manage or key.created_by_id == membership.user_id
    form = KeyLimitsForm.for_key(key, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            key_services.api_key_update(key=key, acting=membership, **form.service_fields())
        except NotAllowed:
            raise
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Saved the limits of {key.name} ({key.prefix}…).")
            return redirect("keys", slug=membership.organization.slug)
    context = {"membership": membership, "key": key, "form": form, "may_edit": may_edit}
    return render(request, "accounts/key_edit.html", context, status=400 if form.errors else 200)


@require_POST
@member_view
def key_revoke(request: HttpRequest, membership: Membership, key_id: int) -> HttpResponse:
    key = selectors.api_key_get(organization=membership.organization, key_id=key_id)
    key_services.api_key_revoke(key=key, acting=membership)
    messages.success(request, f"Revoked {key.name} ({key.prefix}…); it no longer works.")
    return redirect("keys", slug=membership.organization.slug)


@require_POST
@member_view
def key_resume(request: HttpRequest, membership: Membership, key_id: int) -> HttpResponse:
    key = selectors.api_key_get(organization=membership.organization, key_id=key_id)
    key_services.api_key_resume(key=key, acting=membership)
    messages.success(request, f"Resumed {key.name} ({key.prefix}…); it works again.")
    return redirect("keys", slug=membership.organization.slug)


@require_POST
@member_view
def key_rotate(request: HttpRequest, membership: Membership, key_id: int) -> HttpResponse:
    key = selectors.api_key_get(organization=membership.organization, key_id=key_id)
    form = KeyRotateForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a grace period between 0 and 720 hours, then rotate again.")
        return redirect("keys", slug=membership.organization.slug)
    grace = timedelta(hours=form.cleaned_data["grace_hours"])
    try:
        new = key_services.api_key_rotate(key=key, acting=membership, grace=grace)
    except NotAllowed:
        raise
    except DomainError as exc:  # a revoked key, or one already rotated (a Conflict)
        messages.error(request, exc.message)
        return redirect("keys", slug=membership.organization.slug)
    return _secret_page(request, membership, new, rotated=key)
