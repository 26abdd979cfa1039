"""The dashboard's portal pages (mounted at /)."""

from django.urls import include, path

from dashboard import api, home, models_page, request_log_views, usage

org = "o/<slug:slug>/"

urlpatterns = [
    path(org, home.home, name="dashboard"),
    path(f"{org}usage/", usage.usage, name="usage"),
    path(f"{org}usage.csv", usage.usage_csv, name="usage_csv"),
    path(f"{org}requests/", request_log_views.requests_page, name="requests"),
    path(f"{org}requests.csv", request_log_views.requests_csv, name="requests_csv"),
    path(
        f"{org}request-bodies/delete/",
        request_log_views.request_bodies_delete,
        name="request_bodies_delete",
    ),
    path(
        f"{org}requests/<str:request_id>/",
        request_log_views.request_detail,
        name="request_detail",
    ),
    path(f"{org}models/", models_page.models_page, name="models"),
    path("", include("dashboard.live_urls")),  # o/<slug>/live/
    path(f"{org}playground/", models_page.playground, name="playground"),
    path("api/orgs/<slug:slug>/requests/", api.RequestLogApi.as_view(), name="api_requests"),
]
