"""The owner's billing page: plan, balance, top-up, auto-reload, ledger, invoices (HTML
that prints well, and PDF). Every member reads it; admins and owners change the plan."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.errors import DomainError, NotAllowed
from accounts.models import Membership
from accounts.money import usd_text
from accounts.views.access import member_view
from billing import plans
from billing import stripe as billing_stripe
from billing.models import BillingProfile
from billing.portal import pdf, selectors
from billing.portal.forms import PlanChangeForm


@member_view
def billing_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    org = membership.organization
    summary = selectors.billing_summary(organization=org)
    profile = selectors.billing_profile_of(organization=org)
    context = {
        "membership": membership,
        "summary": summary,
        "plans": selectors.plans_offered(),
        "plan_form": PlanChangeForm(initial={"plan": summary.plan.name}),
        "ledger": selectors.ledger_page(organization=org, page=request.GET.get("page")),
        "invoices": selectors.invoices_of(organization=org),
        "profile": profile,
        "card_saved": bool(profile and profile.default_payment_method),
        "autoreload": _autoreload_values(profile),
        "stripe_on": billing_stripe.enabled(),
    }
    return render(request, "billing/billing.html", context)


def _autoreload_values(profile: BillingProfile | None) -> dict[str, str]:
    """The auto-reload form's values as plain USD ("20.00"), as the inputs take them."""
    if profile is None:
        return {}
    return {
        "threshold": usd_text(profile.autoreload_threshold_pico),
        "target": usd_text(profile.autoreload_target_pico),
        "monthly_max": usd_text(profile.autoreload_monthly_max_pico),
    }


@require_POST
@member_view
def billing_plan(request: HttpRequest, membership: Membership) -> HttpResponse:
    """An upgrade (a higher fee) takes effect at once, its difference prorated on this
    period's invoice; anything else from the next period."""
    org = membership.organization
    if not membership.can_manage:
        raise PermissionDenied("Only admins and owners can change the plan.")
    form = PlanChangeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Pick one of the listed plans, then change again.")
        return redirect("billing", slug=org.slug)
    plan = form.cleaned_data["plan"]
    try:
        change = plans.plan_set(
            organization=org, plan=plan, upgrade_at_once=True, actor=request.user
        )
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("billing", slug=org.slug)
    if change is None:
        messages.info(request, f"You stay on {plan.name}; nothing else is scheduled.")
    elif change.prorated:
        messages.success(
            request, f"You are on {plan.name} from now; this month's invoice prorates it."
        )
    else:
        messages.success(
            request,
            f"You move to {plan.name} on {change.effective_at:%Y-%m-%d} (UTC), "
            "the start of the next period.",
        )
    return redirect("billing", slug=org.slug)


@member_view
def invoice_view(request: HttpRequest, membership: Membership, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_get(organization=membership.organization, invoice_id=invoice_id)
    context = {"membership": membership, "invoice": invoice}
    return render(request, "billing/invoice.html", context)


@member_view
def invoice_pdf(request: HttpRequest, membership: Membership, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_get(organization=membership.organization, invoice_id=invoice_id)
    body = pdf.invoice_pdf(request=request, invoice=invoice)
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{pdf.filename(invoice)}"'
    return response
