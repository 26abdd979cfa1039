"""The dashboard's portal pages (mounted at /)."""

from django.urls import path

from dashboard import api, request_log_views

org = "o/<slug:slug>/"

urlpatterns = [
    path(f"{org}requests/", request_log_views.requests_page, name="requests"),
    path(f"{org}requests.csv", request_log_views.requests_csv, name="requests_csv"),
    path(
        f"{org}requests/<str:request_id>/",
        request_log_views.request_detail,
        name="request_detail",
    ),
    path("api/orgs/<slug:slug>/requests/", api.RequestLogApi.as_view(), name="api_requests"),
]
