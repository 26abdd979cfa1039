"""Who may see an organization's pages: its members, resolved from the URL's slug."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts import selectors
from accounts.errors import NotAllowed
from accounts.models import Membership

LAST_ORG_SESSION_KEY = "last_org"

MemberView = Callable[..., HttpResponse]


def member_view(view: MemberView) -> Callable[..., HttpResponse]:
    """Calls `view(request, membership, ...)` with the requester's membership of `<slug>`.

    Anyone who is not a member gets 404, so another tenant's organizations cannot be
    told apart from missing ones. A service's NotAllowed becomes a 403 page with its
    message.
    """

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, slug: str, *args, **kwargs) -> HttpResponse:
        membership = selectors.membership_get(user=request.user, slug=slug)
        remember_organization(request, membership)
        try:
            return view(request, membership, *args, **kwargs)
        except NotAllowed as exc:
            raise PermissionDenied(exc.message) from exc

    return wrapper


def remember_organization(request: HttpRequest, membership: Membership) -> None:
    slug = membership.organization.slug
    if request.session.get(LAST_ORG_SESSION_KEY) != slug:
        request.session[LAST_ORG_SESSION_KEY] = slug


def forget_organization(request: HttpRequest) -> None:
    request.session.pop(LAST_ORG_SESSION_KEY, None)
