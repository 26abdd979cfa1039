"""Usage events leave the request path here and reach the database in batches.

`emit()` is a list append. A background task per event loop writes whatever has queued
every FLUSH_INTERVAL_S (sooner when BATCH_SIZE are waiting); a failed write keeps the
events and is retried. `drain()` writes everything now, for a graceful shutdown.
"""

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections

from billing.usage import UsageEvent, usage_record_batch

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.2
BATCH_SIZE = 500
RETRY_DELAY_S = 1.0


def _write(batch: list[UsageEvent]) -> int:
    """In the sink's own thread, with its own database connection: a slow write never
    holds up the cache reloads that share Channels' database thread."""
    close_old_connections()
    try:
        return usage_record_batch(batch)
    finally:
        close_old_connections()


class UsageSink:
    def __init__(self) -> None:
        self._queue: list[UsageEvent] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._write_lock = asyncio.Lock()
        self._writer = ThreadPoolExecutor(1, "usage-writer")

    def emit(self, event: UsageEvent) -> None:
        self._queue.append(event)
        if len(self._queue) >= BATCH_SIZE:
            self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_INTERVAL_S)
            self._wake.clear()
            if not self._queue:
                continue
            if not await self._write_some():
                await asyncio.sleep(RETRY_DELAY_S)

    async def _write_some(self) -> bool:
        async with self._write_lock:
            batch = self._queue[:BATCH_SIZE]
            if not batch:
                return True
            try:
                await asyncio.get_running_loop().run_in_executor(self._writer, _write, batch)
            except Exception:
                log.exception("Writing %d usage records failed; will retry.", len(batch))
                return False
            del self._queue[: len(batch)]
            return True

    async def drain(self, attempts: int = 5) -> None:
        """Writes everything queued now; stops the background task."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        for _ in range(attempts):
            while self._queue:
                if not await self._write_some():
                    break
            if not self._queue:
                return
            await asyncio.sleep(RETRY_DELAY_S)
        log.error("%d usage records could not be written at shutdown.", len(self._queue))


_sinks: dict[asyncio.AbstractEventLoop, UsageSink] = {}


def sink() -> UsageSink:
    loop = asyncio.get_running_loop()
    s = _sinks.get(loop)
    if s is None:
        s = _sinks[loop] = UsageSink()
    return s


async def record(event: UsageEvent) -> None:
    """Hands one event to the writer. Embedded: queued in this process's memory."""
    sink().emit(event)
