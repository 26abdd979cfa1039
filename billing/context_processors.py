from billing.alerts import alerts_open_for

# Alerts a user dismissed stay hidden for the rest of their session (billing.views).
DISMISSED_SESSION_KEY = "dismissed_alerts"


def alerts(request) -> dict:
    """The open alerts of the organization the page belongs to (its URL's <slug>), for
    the banner in base.html; nothing unless the user is a member of that organization."""
    match = getattr(request, "resolver_match", None)
    slug = match.kwargs.get("slug") if match else None
    user = getattr(request, "user", None)
    if not slug or user is None or not user.is_authenticated:
        return {}
    session = getattr(request, "session", None)
    hidden = session.get(DISMISSED_SESSION_KEY, []) if session is not None else []
    return {"org_alerts": alerts_open_for(user=user, slug=slug, hidden=hidden)}
