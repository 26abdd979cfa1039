"""Usage events leave the request path here, durable when `record()` returns, which the
relay awaits before the answer's last byte.

Every event is first made sane (billing.usage_checks), so no figure of an upstream's can
make the database refuse it. Then:

- Production (REDIS_URL set): one XADD to the database's usage stream. Each web process
  drains the stream (billing.usage_stream.Drainer) with acknowledgement, and claims what
  a process that died had read and not written: a SIGKILLed process loses nothing.
- Embedded (no REDIS_URL), and production while Redis cannot be reached: the event's line
  is appended to this process's journal (billing.usage_journal) with one os.write, then
  queued in memory; a background task writes the queue every FLUSH_INTERVAL_S (sooner
  when BATCH_SIZE are waiting) and scans for the journals of dead processes every
  JOURNAL_SCAN_S. The bound: a crash of the process loses nothing (its journal is
  replayed by the next start or by a live process on the same database); an OS crash or
  power cut can lose the events of the last FLUSH_INTERVAL_S and one write (no fsync).

Both writers split a batch the database refuses and quarantine the refused events
(billing.quarantine); a database that is down is retried, never quarantined. `drain()`
writes everything now, for a graceful shutdown.
"""

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections

from billing import redis_client, usage_journal, usage_stream
from billing.holds import Hold
from billing.quarantine import Written, usage_write
from billing.usage import UsageEvent, event_dumps
from billing.usage_checks import usage_sane
from proxy import metrics

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.2
BATCH_SIZE = 500
RETRY_DELAY_S = 1.0
RETRY_MAX_S = 10.0
JOURNAL_SCAN_S = 2.0
RECORD_TIMEOUT_S = 2.0  # then the journal takes the event (twice is harmless: idempotent)


def _in_thread(fn, *args):
    """In the sink's own thread, with its own database connection: a slow write never
    holds up the cache reloads that share Channels' database thread."""
    close_old_connections()
    try:
        return fn(*args)
    finally:
        close_old_connections()


def _write_counted(events, unreadable=()) -> Written:
    written = usage_write(events, unreadable)
    metrics.usage_written(written.records, written.quarantined)
    return written


def _replay_dead() -> int:
    return usage_journal.replay_dead(_write_counted)


class UsageSink:
    """One per event loop: the local queue and journal, the stream drainer, one writer
    thread for both."""

    def __init__(self) -> None:
        self._queue: list[tuple[UsageEvent, usage_journal.Segment | None]] = []
        self._journal: usage_journal.Journal | None = None
        self._journal_failed = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._write_lock = asyncio.Lock()
        self._writer = ThreadPoolExecutor(1, "usage-writer")
        self.drainer: usage_stream.Drainer | None = None

    def start(self) -> None:
        """The background writer (and, with Redis, the drainer); idempotent."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())
        if redis_client.configured() and self.drainer is None:
            self.drainer = usage_stream.Drainer(self.write, lambda: FLUSH_INTERVAL_S)
            self.drainer.start()

    async def write(self, events: list[UsageEvent], unreadable: list) -> Written:
        """Writes in the writer thread; raises when the database is down."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._writer, _in_thread, _write_counted, events, unreadable
        )

    def emit(self, event: UsageEvent) -> None:
        self._queue.append((event, self._journaled(event)))
        metrics.usage_queued("journal")
        if len(self._queue) >= BATCH_SIZE:
            self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def _journaled(self, event: UsageEvent) -> usage_journal.Segment | None:
        if self._journal_failed:
            return None
        try:
            line = event_dumps(event) + b"\n"
        except (TypeError, ValueError):  # a value JSON cannot hold: the writer quarantines it
            log.exception("Usage event %r cannot be journaled.", event.request_id)
            return None
        try:
            if self._journal is None:
                self._journal = usage_journal.Journal()
            return self._journal.append(line)
        except OSError:
            # A full or read-only disk must not fail the request: the event is still
            # queued, with the in-memory bound of FLUSH_INTERVAL_S.
            self._journal_failed = True
            log.exception("The usage journal cannot be written; usage is kept in memory only.")
            return None

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def _run(self) -> None:
        next_scan = 0.0
        delay = RETRY_DELAY_S
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_INTERVAL_S)
            self._wake.clear()
            if time.monotonic() >= next_scan:
                next_scan = time.monotonic() + JOURNAL_SCAN_S
                with contextlib.suppress(Exception):  # the database is down: next scan
                    await asyncio.get_running_loop().run_in_executor(
                        self._writer, _in_thread, _replay_dead
                    )
            if not self._queue:
                continue
            if await self._write_some():
                delay = RETRY_DELAY_S
            else:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def _write_some(self) -> bool:
        async with self._write_lock:
            batch = self._queue[:BATCH_SIZE]
            if not batch:
                return True
            try:
                await self.write([e for e, _ in batch], [])
            except Exception:
                log.exception("Writing %d usage records failed; will retry.", len(batch))
                return False
            del self._queue[: len(batch)]
            if self._journal is not None:
                self._journal.committed(s for _, s in batch if s is not None)
            return True

    async def drain(self, attempts: int = 5, timeout_s: float = 10.0) -> None:
        """Writes everything queued and this process's share of the stream now; stops the
        background tasks. What cannot be written stays in the journal or the stream."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for _ in range(attempts):
            while self._queue:
                if not await self._write_some():
                    break
            if not self._queue:
                break
            await asyncio.sleep(RETRY_DELAY_S)
        if self._queue:
            log.error("%d usage records could not be written at shutdown.", len(self._queue))
        if self.drainer is not None:
            await self.drainer.stop(timeout_s)
            self.drainer = None
        if self._journal is not None:
            self._journal.close()
            self._journal = None


_sinks: dict[asyncio.AbstractEventLoop, UsageSink] = {}


def sink() -> UsageSink:
    loop = asyncio.get_running_loop()
    s = _sinks.get(loop)
    if s is None:
        s = _sinks[loop] = UsageSink()
    return s


async def close() -> None:
    """Drains this loop's sink and forgets it (ASGI shutdown)."""
    s = _sinks.pop(asyncio.get_running_loop(), None)
    if s is not None:
        await s.drain()


async def record(event: UsageEvent, hold: Hold | None = None) -> UsageEvent:
    """Hands one event to the writer, durably: in Redis' stream, or in this process's
    journal when there is no Redis (or it cannot be reached). With Redis, the request's
    hold is settled in the same round trip. Returns the event as recorded (sane)."""
    event = usage_sane(event)
    if redis_client.configured():
        try:
            async with asyncio.timeout(RECORD_TIMEOUT_S):  # a hung Redis must not hang calls
                await usage_stream.add(event, hold)
        except asyncio.CancelledError:
            sink().emit(event)  # the XADD may not have reached Redis; twice is harmless
            raise
        except Exception as exc:  # Redis down: the journal holds it, nothing is lost
            log.warning("Usage stream unreachable (%s); journaling %s.", exc, event.request_id)
        else:
            metrics.usage_queued("stream")
            s = sink()
            if s.drainer is None:  # a loop without lifespan startup (tests) drains too
                s.start()
            return event
    sink().emit(event)
    return event
