"""ASGI lifespan: load ROUTES_FILE at start; write buffered usage before exiting."""

import logging

from channels.db import database_sync_to_async
from django.conf import settings

log = logging.getLogger(__name__)


async def startup() -> None:
    if settings.ROUTES_FILE:
        from proxy.routes_file import load_path

        summary = await database_sync_to_async(load_path)(settings.ROUTES_FILE)
        log.info("Loaded %s: %s", settings.ROUTES_FILE, summary)


async def shutdown() -> None:
    from proxy import upstream
    from proxy.usage_sink import sink

    await sink().drain()
    await upstream.aclose_all()


def with_lifespan(app):
    async def application(scope, receive, send):
        if scope["type"] != "lifespan":
            return await app(scope, receive, send)
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await startup()
                except Exception as exc:
                    log.exception("Startup failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    return application
