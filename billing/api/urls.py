"""The management API's billing endpoints (CONTRACT.md): balance, usage, invoices,
top-ups; mounted under /api/ beside accounts' own."""

app_name = "billing_api"

urlpatterns: list = []
