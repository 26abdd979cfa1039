"""/healthz, /readyz and /metrics: ASGI routes in front of Django (platform_site.asgi).

Outside Django's middleware on purpose: a load balancer's health check sends whatever Host
it likes (ALLOWED_HOSTS would answer 400), needs no session, and must never get the
portal's HTML 404 page. Each answer is a few bytes of JSON or Prometheus text.

/readyz bounds every check by READY_TIMEOUT_S and runs the database's in a thread of its
own, one check at a time: a locked SQLite file or a PostgreSQL host that drops packets
answers 503 in READY_TIMEOUT_S, and the probes that follow answer 503 at once while that
check is still stuck, instead of piling up threads.
"""

import asyncio
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor

import orjson
from django.conf import settings
from django.db import close_old_connections, connection
from django.urls import re_path

from platform_site import ops_metrics

log = logging.getLogger(__name__)

JSON = [(b"content-type", b"application/json"), (b"cache-control", b"no-store")]

_db_thread = ThreadPoolExecutor(1, "readyz-db")
_db_check: Future | None = None
_failing: set[str] = set()  # checks failing at the last probe: logged once, when they start
_redis: dict = {}  # (event loop, url) → a client with short socket timeouts


async def respond(send, status: int, body: bytes, headers: list, *, head: bool = False) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": b"" if head else body})


async def _method_ok(scope, send) -> bool:
    if scope["method"] in ("GET", "HEAD"):
        return True
    await respond(send, 405, b'{"error":"method not allowed"}', [*JSON, (b"allow", b"GET, HEAD")])
    return False


async def healthz(scope, receive, send) -> None:
    """The process serves requests: touches nothing else."""
    if await _method_ok(scope, send):
        await respond(send, 200, b'{"status":"ok"}', JSON, head=scope["method"] == "HEAD")


def _database() -> None:
    """One read of a table (a bare SELECT 1 never opens SQLite's file), in the check's own
    thread and connection; a broken connection is dropped so the next check opens anew."""
    close_old_connections()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM django_migrations LIMIT 1")
            cursor.fetchone()
    except Exception:
        connection.close()
        raise


async def check_database(timeout_s: float) -> None:
    global _db_check
    if _db_check is not None and not _db_check.done():
        raise TimeoutError("the previous check has not returned")
    _db_check = _db_thread.submit(_database)
    async with asyncio.timeout(timeout_s):
        await asyncio.wrap_future(_db_check)


def _redis_client():
    import redis.asyncio as redis

    key = (asyncio.get_running_loop(), settings.REDIS_URL)
    client = _redis.get(key)
    if client is None:
        timeout = settings.READY_TIMEOUT_S
        client = _redis[key] = redis.Redis.from_url(
            settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout
        )
    return client


async def check_redis(timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        await _redis_client().ping()


async def ready() -> dict[str, str]:
    """Each dependency's state, "ok" or why not; checked side by side."""
    timeout_s = settings.READY_TIMEOUT_S
    checks = {"database": check_database(timeout_s)}
    if settings.REDIS_URL:
        checks["redis"] = check_redis(timeout_s)
    results = await asyncio.gather(*checks.values(), return_exceptions=True)
    states = {}
    for name, result in zip(checks, results, strict=True):
        if isinstance(result, BaseException):
            reason = "no answer" if isinstance(result, TimeoutError) else "error"
            states[name] = reason
            if name not in _failing:
                _failing.add(name)
                why = str(result) or f"no answer within {timeout_s:g} s"
                log.warning("Readiness: %s failed (%s: %s).", name, type(result).__name__, why)
        else:
            states[name] = "ok"
            if name in _failing:
                _failing.discard(name)
                log.info("Readiness: %s answers again.", name)
    return states


async def readyz(scope, receive, send) -> None:
    """200 when the database and (when configured) Redis answer, else 503 naming which
    did not; the reasons' details go to the log, not to whoever asked."""
    if not await _method_ok(scope, send):
        return
    states = await ready()
    failed = sorted(name for name, state in states.items() if state != "ok")
    body = {"status": "unavailable" if failed else "ok", "checks": states}
    if failed:
        body["failed"] = failed
    await respond(
        send, 503 if failed else 200, orjson.dumps(body), JSON, head=scope["method"] == "HEAD"
    )


async def metrics(scope, receive, send) -> None:
    """Prometheus' text format, to METRICS_ALLOW only (ops_metrics)."""
    if not await _method_ok(scope, send):
        return
    if not ops_metrics.allowed(scope):
        await respond(send, 403, b"Forbidden: this address is not in METRICS_ALLOW.\n",
                      [(b"content-type", b"text/plain; charset=utf-8")])  # fmt: skip
        return
    started = time.perf_counter()
    body, content_type = await asyncio.to_thread(ops_metrics.exposition)
    log.debug("Metrics exposition in %.1f ms", (time.perf_counter() - started) * 1000)
    await respond(send, 200, body, [(b"content-type", content_type.encode())],
                  head=scope["method"] == "HEAD")  # fmt: skip


def forget() -> None:
    """Drops the Redis clients and the failure memory (tests switch REDIS_URL)."""
    _redis.clear()
    _failing.clear()


http_urlpatterns = [
    re_path(r"^healthz/?$", healthz),
    re_path(r"^readyz/?$", readyz),
    re_path(r"^metrics/?$", metrics),
]
