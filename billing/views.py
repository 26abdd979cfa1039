"""Portal actions of billing: dismissing an alert's banner."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.models import Membership
from accounts.views.access import member_view
from billing.context_processors import DISMISSED_SESSION_KEY
from billing.models import Alert

# Enough for any run of alerts; older ids are of alerts long resolved.
DISMISSED_KEPT = 50


@require_POST
@member_view
def alert_dismiss(request: HttpRequest, membership: Membership, alert_id: int) -> HttpResponse:
    """Hides the alert's banner for this user's session. The alert stays open (and other
    members still see it) until its condition is gone, so it is neither raised nor
    emailed again meanwhile."""
    alert = get_object_or_404(Alert, pk=alert_id, organization=membership.organization)
    hidden = [i for i in request.session.get(DISMISSED_SESSION_KEY, []) if i != alert.pk]
    request.session[DISMISSED_SESSION_KEY] = [*hidden[-(DISMISSED_KEPT - 1) :], alert.pk]
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("dashboard", slug=membership.organization.slug)
