"""The live usage feed's socket: `/ws/orgs/<slug>/usage/` (CONTRACT.md, live usage feed).

The handshake is authenticated by the portal's session (scope["user"], from
AuthMiddlewareStack) or by a management key of that organization sent as
`Authorization: Bearer KEY`, and checked before it is accepted: no credentials, a bad
key, a /v1-only key or a session socket opened from another site's page is closed with
4403; an organization the requester is not a member of (or that does not exist) with 4404.
An accepted socket joins its own organization's group only, and receives one JSON text
message per request (dashboard.live_publish); what the client sends is ignored. A socket
that is still open is checked again before it is sent anything, at most every RECHECK_S:
a member removed, a key revoked or a session signed out is closed with the same codes.
"""

import asyncio
import time
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from accounts import selectors
from dashboard import live_publish

REFUSED = 4403  # no valid credentials for the feed
NOT_FOUND = 4404  # not this requester's organization (outsiders cannot tell it exists)
RECHECK_S = 30.0


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def authorize(scope: dict, slug: str) -> tuple[int | None, int]:
    """(the organization's id, 0) for a socket that may read `slug`'s feed, else
    (None, the close code)."""
    authorization = _header(scope, b"authorization")
    if authorization is not None:
        parts = authorization.split()
        if len(parts) != 2 or parts[0].lower() != "bearer":
            return None, REFUSED
        key = selectors.api_key_by_secret(parts[1])
        if key is None or not key.is_active() or not key.is_management:
            return None, REFUSED
        if key.organization.slug != slug:
            return None, NOT_FOUND
        return key.organization_id, 0
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        return None, REFUSED
    if not _same_origin(scope):
        # A page of another site opening a socket with the visitor's session cookie.
        return None, REFUSED
    session = scope.get("session")
    if session is None or not session.session_key or not session.exists(session.session_key):
        return None, REFUSED  # signed out since (the user was resolved at the handshake)
    try:
        membership = selectors.membership_get(user=user, slug=slug)
    except Http404:
        return None, NOT_FOUND
    return membership.organization_id, 0


def _same_origin(scope: dict) -> bool:
    """A browser always sends Origin; it must name the host the socket was opened on.
    Without Origin (not a browser) there is no page to forge the request from."""
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    host = _header(scope, b"host")
    return host is not None and urlsplit(origin).netloc.lower() == host.lower()


class UsageFeedConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    checked_at = 0.0

    async def _authorized(self) -> tuple[int | None, int]:
        slug = self.scope["url_route"]["kwargs"]["slug"]
        self.checked_at = time.monotonic()
        return await database_sync_to_async(authorize)(self.scope, slug)

    async def connect(self) -> None:
        organization_id, code = await self._authorized()
        if organization_id is None:
            await self.close(code=code)  # before accept: the handshake is refused
            return
        live_publish.publisher.socket_loop = asyncio.get_running_loop()
        self.group = live_publish.group_of(organization_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        """The feed is one-way."""

    async def usage_batch(self, message: dict) -> None:
        if self.group is None:
            return
        if time.monotonic() - self.checked_at >= RECHECK_S:
            organization_id, code = await self._authorized()
            if organization_id is None or live_publish.group_of(organization_id) != self.group:
                await self.channel_layer.group_discard(self.group, self.channel_name)
                self.group = None
                await self.close(code=code or REFUSED)
                return
        for text in message["records"]:
            await self.send(text_data=text)
