"""Management keys authenticate /api/ calls: `Authorization: Bearer jinf_…`."""

from rest_framework import authentication, exceptions

from accounts.models import APIKey
from accounts.selectors import api_key_by_secret


class ManagementKeyAuthentication(authentication.BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the key as 'Authorization: Bearer KEY'.")
        key = api_key_by_secret(header[1])
        if key is None or not key.is_active():
            raise exceptions.AuthenticationFailed("Incorrect, revoked or expired key.")
        if not key.is_management:
            raise exceptions.AuthenticationFailed(
                "This key calls /v1 only; use a management key or a signed-in session for /api/."
            )
        # The request acts as the key's organization; there is no user behind it.
        return (ManagementPrincipal(key), key)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class ManagementPrincipal:
    """Stands in for request.user when a management key authenticates."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def __init__(self, key: APIKey):
        self.key = key
        self.organization = key.organization

    def __str__(self) -> str:
        return f"management key {self.key.prefix}…"
