from accounts.selectors import memberships_of


def organizations(request) -> dict:
    """The signed-in user's organizations, for the switcher in the navigation."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"my_memberships": memberships_of(user=user)}
