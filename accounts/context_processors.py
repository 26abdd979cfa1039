from django.utils.functional import SimpleLazyObject

from accounts.selectors import memberships_of
from accounts.views.access import LAST_ORG_SESSION_KEY


def organizations(request) -> dict:
    """The signed-in user's organizations, for the switcher in the navigation, and the
    organization whose tabs to show: a page's own `membership` wins; pages outside an
    organization (account settings, "not allowed", "not found") get the one in the URL,
    else the one last visited, so the tabs stay."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    mine = SimpleLazyObject(lambda: list(memberships_of(user=user)))

    def current():
        match = getattr(request, "resolver_match", None)
        slug = (match.kwargs.get("slug") if match else None) or request.session.get(
            LAST_ORG_SESSION_KEY
        )
        return next((m for m in mine if m.organization.slug == slug), None)

    return {"my_memberships": mine, "membership": SimpleLazyObject(current)}
