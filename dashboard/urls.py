"""The dashboard's portal pages (mounted at /)."""

urlpatterns: list = []
