from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from accounts.api import schema  # noqa: F401  registers the management-key security scheme
from accounts.api.keys import (
    KeyDetailApi,
    KeyListCreateApi,
    KeyResumeApi,
    KeyRevokeApi,
    KeyRotateApi,
)
from accounts.api.members import InvitationCreateApi, MemberDetailApi, MemberListApi
from accounts.api.organizations import OrganizationDetailApi, OrganizationListApi

app_name = "api"

org = "orgs/<slug:slug>/"

urlpatterns = [
    path(
        "schema/",
        SpectacularAPIView.as_view(permission_classes=[AllowAny]),
        name="schema",
    ),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api:schema", permission_classes=[AllowAny]),
        name="docs",
    ),
    path("orgs/", OrganizationListApi.as_view(), name="orgs"),
    path(org, OrganizationDetailApi.as_view(), name="org"),
    path(f"{org}members/", MemberListApi.as_view(), name="members"),
    path(f"{org}members/<int:member_id>/", MemberDetailApi.as_view(), name="member"),
    path(f"{org}invitations/", InvitationCreateApi.as_view(), name="invitations"),
    path(f"{org}keys/", KeyListCreateApi.as_view(), name="keys"),
    path(f"{org}keys/<int:key_id>/", KeyDetailApi.as_view(), name="key"),
    path(f"{org}keys/<int:key_id>/revoke/", KeyRevokeApi.as_view(), name="key_revoke"),
    path(f"{org}keys/<int:key_id>/rotate/", KeyRotateApi.as_view(), name="key_rotate"),
    path(f"{org}keys/<int:key_id>/resume/", KeyResumeApi.as_view(), name="key_resume"),
]
