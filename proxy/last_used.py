"""A key's "last used", marked once a request has passed every gate (authentication,
addresses, model, rates, money), so that refused calls do not count as use.

No request waits on this write, and no cache reload waits behind it: `mark` only notes
the key in memory (at most once per key per LAST_USED_RESOLUTION), and a thread of its
own writes what was noted every PROXY_LAST_USED_FLUSH_S, in one UPDATE per batch, on
its own database connection. Channels' database thread, which the key cache's reloads
use, never runs it: a locked or slow database holds up this thread alone, and the keys
noted meanwhile are written when it answers again.
"""

import asyncio
import contextlib
import logging
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone

from accounts.models import APIKey

log = logging.getLogger(__name__)

LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_REMEMBERED = 100_000

_written: dict[int, datetime] = {}  # key → when it was last noted for writing
_noted: set[int] = set()  # keys to write in the next batch
_lock = threading.Lock()
# The thread of its own, with its own database connection, that runs every batch.
_writer = ThreadPoolExecutor(1, "last-used-writer")
_flushers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task]" = (
    weakref.WeakKeyDictionary()
)


def mark(key_id: int) -> None:
    """Records that `key_id` was just used; cheap when called often, never blocks."""
    now = timezone.now()
    last = _written.get(key_id)
    if last is not None and now - last < LAST_USED_RESOLUTION:
        return
    if len(_written) >= MAX_REMEMBERED:
        _written.clear()
    _written[key_id] = now
    with _lock:
        _noted.add(key_id)
    loop = asyncio.get_running_loop()
    task = _flushers.get(loop)
    if task is None or task.done():
        _flushers[loop] = loop.create_task(_flush_every())


async def _flush_every() -> None:
    """Every PROXY_LAST_USED_FLUSH_S, the batch noted so far; the last one at shutdown
    (the event loop's end cancels this task, which writes once more before it ends)."""
    loop = asyncio.get_running_loop()
    try:
        while True:
            await asyncio.sleep(settings.PROXY_LAST_USED_FLUSH_S)
            await loop.run_in_executor(_writer, flush)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await loop.run_in_executor(_writer, flush)
        raise


def flush() -> int:
    """Writes the keys noted so far in one UPDATE; on failure they wait for the next."""
    with _lock:
        batch = set(_noted)
        _noted.clear()
    if not batch:
        return 0
    at = timezone.now()
    try:
        close_old_connections()
        APIKey.objects.filter(Q(last_used_at=None) | Q(last_used_at__lt=at), pk__in=batch).update(
            last_used_at=at
        )
    except Exception as exc:  # the database is down or locked: keep them for later
        log.warning("Recording %d keys' last use failed; retrying: %s", len(batch), exc)
        with _lock:
            if len(_noted) < MAX_REMEMBERED:
                _noted.update(batch)
        return 0
    finally:
        with contextlib.suppress(Exception):
            close_old_connections()
    return len(batch)


async def drain() -> None:
    """Writes what is noted now (tests; a graceful shutdown may too)."""
    await asyncio.get_running_loop().run_in_executor(_writer, flush)


def forget() -> None:
    """Tests: write the next use of every key again, and nothing noted before."""
    _written.clear()
    with _lock:
        _noted.clear()
