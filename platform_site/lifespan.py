"""ASGI lifespan: load ROUTES_FILE and PLANS_FILE and start the usage writer at start; at
shutdown, end the calls still open so that each records what it consumed, then write all
usage.

uvicorn runs the lifespan shutdown after its graceful timeout, once it has cancelled its
own connection tasks; the consumers' serving tasks are still running then (proxy.inflight)."""

import logging

from channels.db import database_sync_to_async
from django.conf import settings

log = logging.getLogger(__name__)


END_CALLS_TIMEOUT_S = 5.0


async def startup() -> None:
    from proxy.usage_sink import sink

    sink().start()  # replays the journals of processes that died, drains the stream
    if settings.ROUTES_FILE:
        from proxy.routes_file import load_path

        summary = await database_sync_to_async(load_path)(settings.ROUTES_FILE)
        log.info("Loaded %s: %s", settings.ROUTES_FILE, summary)
    if settings.PLANS_FILE:
        from billing.plans import plans_load_path

        summary = await database_sync_to_async(plans_load_path)(path=settings.PLANS_FILE)
        log.info("Loaded %s: %s", settings.PLANS_FILE, summary)


async def shutdown() -> None:
    from proxy import inflight, upstream, usage_sink

    try:
        ended = await inflight.end_all(END_CALLS_TIMEOUT_S)
        if ended:
            log.warning("Ended %d open /v1 calls at shutdown; each is recorded.", ended)
        await usage_sink.close()
    finally:
        await upstream.aclose_all()
        await _give_back_leases()


async def _give_back_leases() -> None:
    from billing import holds

    try:
        await holds.give_back()  # what this process's credit leases did not spend
    except Exception:
        log.exception("Credit leases could not be given back; they return when pots reload.")


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
                try:
                    await shutdown()
                except Exception:
                    log.exception("Shutdown failed")
                await send({"type": "lifespan.shutdown.complete"})
                return

    return application
