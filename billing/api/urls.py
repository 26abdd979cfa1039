"""The management API's billing endpoints (CONTRACT.md): balance, usage, invoices;
mounted under /api/ beside accounts' own (top-ups live in billing.stripe)."""

from django.urls import path

from billing.api.views import BalanceApi, InvoiceDetailApi, InvoiceListApi, UsageApi

app_name = "billing_api"

org = "orgs/<slug:slug>/"

urlpatterns = [
    path(f"{org}balance/", BalanceApi.as_view(), name="balance"),
    path(f"{org}usage/", UsageApi.as_view(), name="usage"),
    path(f"{org}invoices/", InvoiceListApi.as_view(), name="invoices"),
    path(f"{org}invoices/<int:invoice_id>/", InvoiceDetailApi.as_view(), name="invoice"),
]
