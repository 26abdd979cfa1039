"""A key's "last used", marked once a request has passed every gate (authentication,
addresses, model, rates, money), so that refused calls do not count as use.

Nothing here waits on the database: `mark` remembers in this process when it last wrote
each key and, at most once per key per LAST_USED_RESOLUTION, starts a background write.
"""

import asyncio
import logging
from datetime import datetime, timedelta

from channels.db import database_sync_to_async
from django.db.models import Q
from django.utils import timezone

from accounts.models import APIKey

log = logging.getLogger(__name__)

LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_REMEMBERED = 100_000

_written: dict[int, datetime] = {}
_pending: set[asyncio.Task] = set()


def mark(key_id: int) -> None:
    """Records that `key_id` was just used, in the background; cheap when called often."""
    now = timezone.now()
    last = _written.get(key_id)
    if last is not None and now - last < LAST_USED_RESOLUTION:
        return
    if len(_written) >= MAX_REMEMBERED:
        _written.clear()
    _written[key_id] = now
    task = asyncio.get_running_loop().create_task(_write(key_id, now))
    _pending.add(task)
    task.add_done_callback(_done)


@database_sync_to_async
def _write(key_id: int, at: datetime) -> None:
    APIKey.objects.filter(Q(last_used_at=None) | Q(last_used_at__lt=at), pk=key_id).update(
        last_used_at=at
    )


def _done(task: asyncio.Task) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("Recording a key's last use failed: %s", task.exception())


async def drain() -> None:
    """Waits for the writes in flight (tests; a graceful shutdown may too)."""
    while _pending:
        await asyncio.gather(*list(_pending), return_exceptions=True)


def forget() -> None:
    """Tests: write the next use of every key again."""
    _written.clear()
