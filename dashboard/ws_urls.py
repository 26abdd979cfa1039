"""The dashboard's websocket routes (the contract's live usage feed)."""

websocket_urlpatterns: list = []
