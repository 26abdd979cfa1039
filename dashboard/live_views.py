"""The live feed's page: each request of the organization as it happens
(static/js/live-feed.js reads the socket of dashboard.live)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Membership
from accounts.views.access import member_view


@member_view
def live_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    slug = membership.organization.slug
    return render(
        request,
        "dashboard/live.html",
        {"membership": membership, "current": "live", "ws_path": f"/ws/orgs/{slug}/usage/"},
    )
