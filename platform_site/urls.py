from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/", include("accounts.api.urls")),
    path("api/", include("billing.api.urls")),
    path("api/", include("proxy.api_urls")),
    path("", include("billing.urls")),
    path("", include("dashboard.urls")),
    path("", include("proxy.portal_urls")),
    path("", include("accounts.urls")),
]
