"""Stripe's routes: the webhook (the contract's POST /stripe/webhook/) and the portal's
top-up and auto-reload forms."""

urlpatterns: list = []
