"""The admin's billing review, as staff pages: invoices waiting for a decision with their
reconciliation check, the usage behind each line, the actions (finalize, mark paid, void,
credit note, credit adjustment) through billing.invoices.review, the audit log, and CSV.

Non-staff get 404, as if the pages did not exist."""

import csv
import json
import uuid
from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.errors import DomainError
from accounts.money import MAX_USD, format_usd, usd_text, usd_to_pico
from billing.invoices import review
from billing.invoices.errors import BillingError
from billing.models import Invoice, LineKind
from billing.portal import selectors
from billing.portal.forms import AmountReasonForm, ReviewFilterForm, VoidForm

# Lines with usage records behind them (the others are fees and credits).
DRILLABLE = (LineKind.USAGE, LineKind.OVERAGE, LineKind.BYOK_FEE, LineKind.ADJUSTMENT)


def staff_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper


def _filters(request: HttpRequest) -> tuple[ReviewFilterForm, str, str]:
    form = ReviewFilterForm(request.GET or None)
    if form.is_bound and form.is_valid():
        return form, form.cleaned_data["status"], form.cleaned_data["period"]
    return form, "", ""


# The check's figures (billing/invoices/check.py) under names people read.
FIGURE_LABELS = {
    "lines_usage": "usage lines",
    "rollups": "rollups",
    "raw": "raw usage records",
    "rollups_debited": "prepaid, in the rollups",
    "raw_debited": "prepaid, in the records",
    "ledger": "ledger's usage debits",
    "total": "total",
    "lines_sum": "sum of the lines",
}


def check_figures(invoice: Invoice) -> list[tuple[str, str]]:
    """The check's pico figures as exact dollars (a pico of difference must show), then its
    problems, if any; its bookkeeping (fingerprints, what was billed) is left out."""
    out = []
    details = invoice.check_details or {}
    for name, value in details.items():
        if not name.endswith("_pico"):
            continue
        figure = name.removesuffix("_pico")
        try:
            pico = int(value)
            text = f"{'-' if pico < 0 else ''}${usd_text(abs(pico))}"
        except (TypeError, ValueError):
            text = str(value)
        out.append((FIGURE_LABELS.get(figure, figure.replace("_", " ")), text))
    problems = details.get("problems") or []
    if isinstance(problems, list) and problems:
        out.append(("problems", " ".join(str(p) for p in problems)))
    return out


@staff_view
def review_list(request: HttpRequest) -> HttpResponse:
    form, status, period = _filters(request)
    invoices = selectors.invoices_for_review(status=status, period=period)
    page = Paginator(invoices, selectors.REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(invoice, check_figures(invoice)) for invoice in page]
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "rows": rows, "query": query.urlencode()}
    return render(request, "billing/staff/review_list.html", context)


@staff_view
def review_invoice(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_for_staff(invoice_id=invoice_id)
    context = {
        "invoice": invoice,
        "figures": check_figures(invoice),
        "drillable": DRILLABLE,
        "audit": _shown(selectors.audit_of_invoice(invoice=invoice)),
        "open": invoice.status in selectors.REVIEW_STATUSES,
        "void_form": VoidForm(),
        "credit_note_form": AmountReasonForm(prefix="note"),
        "credits_form": AmountReasonForm(prefix="credits"),
        "balance": invoice.organization.credit_balance_pico,
        # A fresh token per form shown: a resubmitted adjustment is applied once.
        "credits_token": uuid.uuid4().hex,
    }
    return render(request, "billing/staff/review_invoice.html", context)


@staff_view
def line_usage(request: HttpRequest, invoice_id: int, line_id: int) -> HttpResponse:
    invoice = selectors.invoice_for_staff(invoice_id=invoice_id)
    line = selectors.line_for_staff(invoice=invoice, line_id=line_id)
    usage = selectors.line_usage(invoice=invoice, line=line, cursor=request.GET.get("after", ""))
    context = {"invoice": invoice, "line": line, "usage": usage}
    return render(request, "billing/staff/line_usage.html", context)


@staff_view
def audit_log(request: HttpRequest) -> HttpResponse:
    page = selectors.audit_page(page=request.GET.get("page"))
    context = {"page": page, "entries": _shown(page.object_list)}
    return render(request, "billing/staff/audit.html", context)


def _shown(entries) -> list:
    """Audit entries with their before and after as JSON text, as they are stored."""
    out = list(entries)
    for entry in out:
        entry.before_text = "" if entry.before is None else json.dumps(entry.before)
        entry.after_text = "" if entry.after is None else json.dumps(entry.after)
    return out


# --- actions: each calls one review service and shows its refusal as a message ----------


def _act(request: HttpRequest, invoice: Invoice, action: Callable[[], object], done: str):
    try:
        action()
    except (DomainError, BillingError) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("staff_billing_invoice", invoice_id=invoice.pk)


@require_POST
@staff_view
def invoice_finalize(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_for_staff(invoice_id=invoice_id)
    return _act(
        request,
        invoice,
        lambda: review.invoice_finalize(invoice=invoice, actor=request.user),
        "Finalized the invoice.",
    )


@require_POST
@staff_view
def invoice_mark_paid(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_for_staff(invoice_id=invoice_id)
    return _act(
        request,
        invoice,
        lambda: review.invoice_mark_paid(invoice=invoice, actor=request.user, via="manual"),
        "Marked the invoice paid.",
    )


@require_POST
@staff_view
def invoice_void(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_for_staff(invoice_id=invoice_id)
    form = VoidForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the invoice is voided, for the audit log, then void.")
        return redirect("staff_billing_invoice", invoice_id=invoice.pk)
    reason = form.cleaned_data["reason"]
    return _act(
        request,
        invoice,
        lambda: review.invoice_void(invoice=invoice, actor=request.user, reason=reason),
        "Voided the invoice; any credit it consumed is given back.",
    )


def _amount_and_reason(request: HttpRequest, prefix: str) -> tuple[int, str] | None:
    form = AmountReasonForm(request.POST, prefix=prefix)
    if not form.is_valid():
        messages.error(request, "Give an amount in USD and a reason, then try again.")
        return None
    amount = form.cleaned_data["amount_usd"]
    if abs(amount) > MAX_USD:
        messages.error(request, f"Give an amount of at most USD {MAX_USD:,}.")
        return None
    return usd_to_pico(amount), form.cleaned_data["reason"]


@require_POST
@staff_view
def invoice_credit_note(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_for_staff(invoice_id=invoice_id)
    given = _amount_and_reason(request, "note")
    if given is None:
        return redirect("staff_billing_invoice", invoice_id=invoice.pk)
    amount, reason = given
    return _act(
        request,
        invoice,
        lambda: review.credit_note_issue(
            invoice=invoice, actor=request.user, amount_pico=amount, reason=reason
        ),
        f"Issued a credit note of {format_usd(amount)}; it goes on the next invoice.",
    )


@require_POST
@staff_view
def credits_adjust(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """Adjusts the credit of the invoice's organization (the form sits on the invoice)."""
    invoice = selectors.invoice_for_staff(invoice_id=invoice_id)
    given = _amount_and_reason(request, "credits")
    if given is None:
        return redirect("staff_billing_invoice", invoice_id=invoice.pk)
    amount, reason = given
    token = request.POST.get("idempotency_key", "")[:64]
    return _act(
        request,
        invoice,
        lambda: review.credits_adjust(
            organization=invoice.organization,
            actor=request.user,
            amount_pico=amount,
            reason=reason,
            idempotency_key=token,
        ),
        f"Adjusted {invoice.organization.name}'s credit by {format_usd(amount)}.",
    )


# --- CSV ---------------------------------------------------------------------------------


def _csv_response(name: str) -> tuple[HttpResponse, object]:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response, csv.writer(response)


def _when(moment) -> str:
    return moment.isoformat() if moment else ""


@staff_view
def invoices_csv(request: HttpRequest) -> HttpResponse:
    """The listed invoices (same filters as the page); money as exact USD strings."""
    _, status, period = _filters(request)
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response, out = _csv_response(f"invoices-{stamp}.csv")
    out.writerow(["id", "number", "organization", "period", "plan", "status", "total_usd",
                  "paid_from_credit_usd", "amount_due_usd", "check_status", "finalized_at",
                  "paid_at", "voided_at", "void_reason"])  # fmt: skip
    for inv in selectors.invoices_for_review(status=status, period=period).iterator():
        out.writerow([inv.pk, inv.number or "", inv.organization.slug, inv.period, inv.plan,
                      inv.status, usd_text(inv.total_pico), usd_text(inv.paid_from_credit_pico),
                      usd_text(inv.amount_due_pico), inv.check_status, _when(inv.finalized_at),
                      _when(inv.paid_at), _when(inv.voided_at), inv.void_reason])  # fmt: skip
    return response


@staff_view
def invoice_lines_csv(request: HttpRequest, invoice_id: int) -> HttpResponse:
    invoice = selectors.invoice_for_staff(invoice_id=invoice_id)
    name = invoice.number or f"{invoice.organization.slug}-{invoice.period}-draft"
    response, out = _csv_response(f"invoice-{name}-lines.csv")
    out.writerow(["invoice_id", "number", "organization", "period", "position", "kind",
                  "description", "model", "quantity", "amount_usd", "covers_period"])  # fmt: skip
    for line in invoice.lines.all():
        out.writerow([invoice.pk, invoice.number or "", invoice.organization.slug,
                      invoice.period, line.position, line.kind, line.description, line.model,
                      line.quantity, usd_text(line.amount_pico), line.covers_period])  # fmt: skip
    return response
