"""The dashboard's websocket routes (the contract's live usage feed)."""

from django.urls import path

from dashboard.live import UsageFeedConsumer

websocket_urlpatterns = [path("ws/orgs/<slug:slug>/usage/", UsageFeedConsumer.as_asgi())]
