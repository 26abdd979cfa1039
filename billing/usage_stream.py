"""Production's usage stream: a Redis stream per database, drained with acknowledgement.

`add()` is one XADD: when it returns, Redis holds the event, before the request's last
byte. Every web process runs a Drainer in one consumer group: it reads up to BATCH
entries, writes them (idempotent by request id), and only then acknowledges and deletes
them. Entries a process read and never acknowledged (it was SIGKILLed mid-batch) stay
pending in the group; any drainer claims those idle for longer than CLAIM_IDLE_MS
(XAUTOCLAIM) and writes them. A drainer whose write waits on a database that is down
keeps its entries fresh (XCLAIM to itself) so that nobody claims them meanwhile, and
never acknowledges what it has not written.

The drainer reads every flush interval, and at once again after a full batch, so that
a burst is written in large batches and a quiet process costs a few Redis calls a second.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable

from billing import holds
from billing.holds import Hold
from billing.holds_redis import RedisHolds
from billing.quarantine import Written
from billing.redis_client import client
from billing.usage import UsageEvent, event_dumps, event_loads
from billing.usage_journal import database_tag

log = logging.getLogger(__name__)

GROUP = "usage-writers"
FIELD = b"e"
BATCH = 500
CLAIM_IDLE_MS = 5_000
CLAIM_EVERY_S = 1.0
FORGET_CONSUMERS_IDLE_MS = 3_600_000  # a consumer with nothing pending, idle an hour
FORGET_EVERY_S = 300.0
RETRY_MAX_S = 2.0  # below CLAIM_IDLE_MS: a retrying drainer keeps its entries fresh

Write = Callable[[list[UsageEvent], list[tuple[str, object]]], Awaitable[Written]]


def stream_key() -> str:
    return f"jinf:usage:{database_tag()}"


async def add(event: UsageEvent, hold: Hold | None = None) -> None:
    """One round trip; raises the client's error when Redis cannot take the event. A hold
    of the request (billing.holds, Redis backend) is settled to the event's cost in the
    same round trip."""
    if (
        hold is not None
        and not hold.settled
        and not hold.parts  # a BYOK hold settles its parts apart (billing.holds.settle)
        and isinstance(holds.backend(), RedisHolds)
    ):
        await holds.backend().record_and_settle(
            hold, event.cost_pico, stream_key(), FIELD, event_dumps(event)
        )
        hold.settled = True
        return
    await client().xadd(stream_key(), {FIELD: event_dumps(event)})


def _decode(entries) -> tuple[list[UsageEvent], list[tuple[str, object]]]:
    events, unreadable = [], []
    for entry_id, fields in entries:
        raw = (fields or {}).get(FIELD)
        if raw is None:
            continue  # deleted after its acknowledgement was lost; nothing to write
        try:
            events.append(event_loads(raw))
        except (ValueError, TypeError) as exc:
            unreadable.append((f"unreadable stream entry {entry_id!r}: {exc}", raw))
    return events, unreadable


class Drainer:
    """Writes the stream into the database from this process; one per event loop."""

    def __init__(self, write: Write, interval: Callable[[], float]) -> None:
        self._write = write
        self._interval = interval
        self.key = stream_key()
        self.name = f"{socket.gethostname()}-{os.getpid()}-{id(self):x}"
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stop.clear()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, timeout_s: float = 10.0) -> None:
        """Finishes the batch in hand, then writes what is left of this process's share
        (its pending entries and any not yet read), for up to timeout_s. What it cannot
        write stays in the stream for another process, or the next start."""
        deadline = time.monotonic() + timeout_s
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout_s / 2)
            self._task = None
        try:
            while time.monotonic() < deadline:
                mine = await self._read("0", deadline)
                more = await self._read(">", deadline)
                if not (mine or more):
                    return
        except Exception:
            log.exception("Draining the usage stream at shutdown failed; it stays in Redis.")

    async def _run(self) -> None:
        next_claim = next_forget = 0.0
        pause = 0.0
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if now >= next_claim:
                    next_claim = now + CLAIM_EVERY_S
                    await self._claim()
                if now >= next_forget:
                    next_forget = now + FORGET_EVERY_S
                    await self._forget_consumers()
                full = await self._read(">") >= BATCH
                pause = 0.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                pause = min(max(pause * 2, 0.2), RETRY_MAX_S)
                log.warning("Reading the usage stream failed (%s); again in %.1fs.", exc, pause)
                full = False
            if not full:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), pause or self._interval())

    async def _ensure_group(self) -> None:
        try:
            await client().xgroup_create(self.key, GROUP, id="0", mkstream=True)
        except Exception as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read(self, start: str, deadline: float | None = None) -> int:
        """One batch from the group (">": new entries; "0": this consumer's pending ones),
        written and acknowledged; how many entries it held."""
        try:
            reply = await client().xreadgroup(GROUP, self.name, {self.key: start}, count=BATCH)
        except Exception as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self._ensure_group()
            return BATCH
        entries = reply[0][1] if reply else []
        if entries:
            await self._handle(entries, deadline)
        return len(entries)

    async def _claim(self) -> None:
        """Takes over the entries of processes that read them and died before writing."""
        start = "0-0"
        for _ in range(20):  # a bounded sweep per round; the next round goes on
            try:
                reply = await client().xautoclaim(
                    self.key, GROUP, self.name, CLAIM_IDLE_MS, start_id=start, count=BATCH
                )
            except Exception as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await self._ensure_group()
                return
            start, entries = reply[0], reply[1]
            gone = reply[2] if len(reply) > 2 else []
            if gone:
                await self._ack([*gone])
            if entries:
                log.warning("Claimed %d usage events of a process that stopped.", len(entries))
                await self._handle(entries)
            if start in (b"0-0", "0-0"):
                return

    async def _handle(self, entries, deadline: float | None = None) -> None:
        """Writes the entries until the database takes them, then acknowledges them."""
        ids = [entry_id for entry_id, _ in entries]
        events, unreadable = _decode(entries)
        pause = 0.2
        while True:
            try:
                await self._write(events, unreadable)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if deadline is not None and time.monotonic() + pause > deadline:
                    raise
                log.warning("Writing %d usage events failed (%s); retrying.", len(ids), exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, RETRY_MAX_S)
            with contextlib.suppress(Exception):  # still ours: nobody claims them meanwhile
                await client().xclaim(self.key, GROUP, self.name, 0, ids, justid=True)
        await self._ack(ids)

    async def _ack(self, ids: list) -> None:
        for attempt in range(5):
            try:
                pipe = client().pipeline(transaction=False)
                pipe.xack(self.key, GROUP, *ids)
                pipe.xdel(self.key, *ids)
                await pipe.execute()
                return
            except Exception as exc:
                log.warning("Acknowledging usage entries failed (%s).", exc)
                await asyncio.sleep(0.1 * (attempt + 1))
        # Unacknowledged but written: claimed and skipped as already written later on.

    async def _forget_consumers(self) -> None:
        """Consumers of processes long gone, with nothing pending, would pile up in the
        group with every restart."""
        try:
            consumers = await client().xinfo_consumers(self.key, GROUP)
        except Exception as exc:
            if "NOGROUP" in str(exc) or "no such key" in str(exc):
                await self._ensure_group()
                return
            raise
        for c in consumers:
            name = c.get("name")
            name = name.decode() if isinstance(name, bytes) else name
            if (
                name != self.name
                and not c.get("pending")
                and c.get("idle", 0) > FORGET_CONSUMERS_IDLE_MS
            ):
                await client().xgroup_delconsumer(self.key, GROUP, name)
