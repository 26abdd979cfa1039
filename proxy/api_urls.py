"""The management API's routes of an organization's own providers and models (BYOK)."""

from django.urls import path

from proxy import byok_api

org = "orgs/<slug:slug>/"

urlpatterns = [
    path(f"{org}providers/", byok_api.ProviderListCreateApi.as_view(), name="api_providers"),
    path(
        f"{org}providers/<slug:name>/",
        byok_api.ProviderDetailApi.as_view(),
        name="api_provider",
    ),
    path(f"{org}models/", byok_api.ModelListCreateApi.as_view(), name="api_own_models"),
    path(f"{org}models/<path:name>/", byok_api.ModelDetailApi.as_view(), name="api_own_model"),
]
