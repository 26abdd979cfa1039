"""Stripe's routes: the webhook (the contract's POST /stripe/webhook/), the management
API's top-up, and the portal's top-up and auto-reload forms."""

from django.urls import path

from billing.stripe import api, views

urlpatterns = [
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
    path("api/orgs/<slug:slug>/topups/", api.TopUpCreateApi.as_view(), name="api_topups"),
    path("o/<slug:slug>/billing/topup/", views.billing_topup, name="billing_topup"),
    path("o/<slug:slug>/billing/autoreload/", views.billing_autoreload, name="billing_autoreload"),
]
