"""The process's Redis clients, one per event loop (and one for threads), over a bounded
pool that makes a caller wait for a free connection instead of failing.

redis-py's default pool raises MaxConnectionsError when every connection is busy; under a
burst that became HTTP 500s. A BlockingConnectionPool queues the caller for up to
REDIS_POOL_TIMEOUT_S, which only a Redis that is down or far too slow exceeds.
Rate limits, reservations and the usage stream share these clients.
"""

import asyncio
import threading

from django.conf import settings

_async: dict[asyncio.AbstractEventLoop, object] = {}
_sync: object | None = None
_lock = threading.Lock()


def configured() -> bool:
    return bool(settings.REDIS_URL)


def client():
    """The asyncio client of the running event loop."""
    loop = asyncio.get_running_loop()
    c = _async.get(loop)
    if c is None:
        import redis.asyncio as redis

        pool = redis.BlockingConnectionPool.from_url(
            settings.REDIS_URL,
            max_connections=settings.REDIS_POOL_MAX_CONNECTIONS,
            timeout=settings.REDIS_POOL_TIMEOUT_S,
        )
        c = _async[loop] = redis.Redis(connection_pool=pool)
    return c


def sync_client():
    """A blocking client for threads (the usage writer, Celery tasks, services)."""
    global _sync
    with _lock:
        if _sync is None:
            import redis

            pool = redis.BlockingConnectionPool.from_url(
                settings.REDIS_URL,
                max_connections=settings.REDIS_POOL_MAX_CONNECTIONS,
                timeout=settings.REDIS_POOL_TIMEOUT_S,
            )
            _sync = redis.Redis(connection_pool=pool)
        return _sync


def forget() -> None:
    """Drops the clients (tests switch REDIS_URL); connections close with the pools."""
    global _sync
    with _lock:
        _async.clear()
        _sync = None
