"""The owner's billing pages (under the organization) and the staff billing review."""

from django.urls import path

from billing.portal import staff, views

org = "o/<slug:slug>/billing/"
review = "staff/billing/"

urlpatterns = [
    path(org, views.billing_page, name="billing"),
    path(org + "plan/", views.billing_plan, name="billing_plan"),
    path(org + "invoices/<int:invoice_id>/", views.invoice_view, name="billing_invoice"),
    path(org + "invoices/<int:invoice_id>.pdf", views.invoice_pdf, name="billing_invoice_pdf"),
    path(review, staff.review_list, name="staff_billing"),
    path(review + "invoices.csv", staff.invoices_csv, name="staff_billing_csv"),
    path(review + "audit/", staff.audit_log, name="staff_billing_audit"),
    path(review + "invoices/<int:invoice_id>/", staff.review_invoice, name="staff_billing_invoice"),
    path(review + "invoices/<int:invoice_id>/lines.csv", staff.invoice_lines_csv,
         name="staff_billing_lines_csv"),
    path(review + "invoices/<int:invoice_id>/lines/<int:line_id>/usage/", staff.line_usage,
         name="staff_billing_line_usage"),
    path(review + "invoices/<int:invoice_id>/finalize/", staff.invoice_finalize,
         name="staff_billing_finalize"),
    path(review + "invoices/<int:invoice_id>/mark-paid/", staff.invoice_mark_paid,
         name="staff_billing_mark_paid"),
    path(review + "invoices/<int:invoice_id>/void/", staff.invoice_void,
         name="staff_billing_void"),
    path(review + "invoices/<int:invoice_id>/credit-note/", staff.invoice_credit_note,
         name="staff_billing_credit_note"),
    path(review + "invoices/<int:invoice_id>/credits/", staff.credits_adjust,
         name="staff_billing_credits"),
]  # fmt: skip
