"""ASGI entry point: `/v1` goes to the proxy's Channels consumers, outside Django's
request/middleware stack, and so do the operations endpoints (/healthz, /readyz,
/metrics: no ALLOWED_HOSTS or session for a health checker); everything else (portal, admin, API) is ordinary Django.

Every http request first passes platform_site.body_limits: an oversized declared body
is refused at once (413), and a body still arriving after PROXY_BODY_TIMEOUT_S is cut
(408), so a slow client holds no consumer or view."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from dashboard.ws_urls import websocket_urlpatterns  # noqa: E402
from platform_site.body_limits import BodyLimits  # noqa: E402
from platform_site.lifespan import with_lifespan  # noqa: E402
from platform_site.ops import http_urlpatterns as ops_http  # noqa: E402
from proxy.urls import http_urlpatterns as proxy_http  # noqa: E402

application = with_lifespan(
    ProtocolTypeRouter(
        {
            "http": BodyLimits(URLRouter([*ops_http, *proxy_http, re_path(r"", django_asgi_app)])),
            # The live usage feed: the portal's session (or a management key, checked by
            # the consumer) authenticates the handshake.
            "websocket": AuthMiddlewareStack(URLRouter(websocket_urlpatterns)),
        }
    )
)
