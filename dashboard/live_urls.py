"""The live feed's page (its socket is in dashboard.ws_urls)."""

from django.urls import path

from dashboard import live_views

urlpatterns = [path("o/<slug:slug>/live/", live_views.live_page, name="live")]
