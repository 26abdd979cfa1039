"""The portal's own "not found" page, also while DEBUG is on.

With DEBUG, Django answers a 404 with its technical page (the URL patterns, the
settings' names), which is what a new user of `make run` met. Pages of the portal get
templates/404.html instead; the API, /v1, the admin and static files keep their own.
"""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template import loader

NOT_PORTAL = ("/api/", "/v1", "/admin/", "/static/", "/ws/")


class PortalNotFoundMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and not request.path.startswith(NOT_PORTAL)
            and "text/html" in response.get("Content-Type", "")
            and getattr(response, "streaming", False) is False
            and b"DEBUG = True" in getattr(response, "content", b"")  # the technical page
        ):
            body = loader.render_to_string("404.html", request=request)
            return HttpResponseNotFound(body)
        return response
