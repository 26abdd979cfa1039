from django.urls import include, path

from billing import views

urlpatterns = [
    path(
        "o/<slug:slug>/alerts/<int:alert_id>/dismiss/",
        views.alert_dismiss,
        name="alert_dismiss",
    ),
    path("", include("billing.stripe.urls")),
    path("", include("billing.portal.urls")),
]
