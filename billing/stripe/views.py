"""Stripe's HTTP edges: the webhook, and the portal's top-up and auto-reload forms (the
billing page, /o/<slug>/billing/, posts to them)."""

from decimal import Decimal

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from accounts.errors import DomainError, FieldError, NotAllowed
from accounts.models import Membership
from accounts.views.access import member_view
from billing.stripe import StripeOff
from billing.stripe.autoreload import AutoreloadSettings, autoreload_update
from billing.stripe.topups import StripeUnavailable, topup_amount_pico, topup_start
from billing.stripe.webhooks import WebhookRefused, event_receive


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    """POST /stripe/webhook/ (CONTRACT.md): 400 unless signed by STRIPE_WEBHOOK_SECRET."""
    try:
        outcome = event_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
    except WebhookRefused as exc:
        return JsonResponse({"detail": exc.message, "code": "invalid"}, status=400)
    return JsonResponse({"received": outcome})


def billing_url(membership: Membership) -> str:
    return f"/o/{membership.organization.slug}/billing/"


def _manager(membership: Membership) -> None:
    if not membership.can_manage:
        raise NotAllowed("Only the organization's owners and admins manage its billing.")


@require_POST
@member_view
def billing_topup(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The billing page's top-up button: to Stripe Checkout, or back with the reason."""
    _manager(membership)
    back = billing_url(membership)
    try:
        amount_pico = topup_amount_pico(request.POST.get("amount_usd", ""))
        url = topup_start(
            organization=membership.organization,
            amount_pico=amount_pico,
            actor=request.user,
            portal_url=request.build_absolute_uri(back),
        )
    except (StripeOff, FieldError, StripeUnavailable) as exc:
        messages.error(request, exc.message)
        return redirect(back)
    return HttpResponseRedirect(url)


def _usd_field(request: HttpRequest, name: str) -> int:
    value = request.POST.get(name, "").strip() or "0"
    try:
        amount = Decimal(value)
    except ArithmeticError:
        raise FieldError(name, f"Give the {name.replace('_', ' ')} in USD, like 20.") from None
    if not amount.is_finite() or amount < 0 or amount > 10**6:
        raise FieldError(name, f"Give the {name.replace('_', ' ')} in USD, like 20.")
    return int(amount.quantize(Decimal("0.01")) * 10**12)


@require_POST
@member_view
def billing_autoreload(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The billing page's auto-reload form: enabled, threshold, target, monthly_max (USD)."""
    _manager(membership)
    back = billing_url(membership)
    try:
        settings = AutoreloadSettings(
            enabled=request.POST.get("enabled") in ("on", "true", "1"),
            threshold_pico=_usd_field(request, "threshold"),
            target_pico=_usd_field(request, "target"),
            monthly_max_pico=_usd_field(request, "monthly_max"),
        )
        autoreload_update(
            organization=membership.organization, settings=settings, actor=request.user
        )
    except (FieldError, DomainError) as exc:
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(request, "Auto-reload is on." if settings.enabled else "Auto-reload is off.")
    return redirect(back)
