"""In-process caches of database reads for the hot path: served from memory, reloaded in
the background before they go stale, one load per entry at a time.

An entry loaded at time t is served until t + ttl (the bound that, for keys, makes a
revocation reach every process within ttl). Once half of that has passed, the next
request that reads it starts a reload in the background and is answered from memory at
once, so a hot entry never makes a request wait on the database. Only a cold or expired
entry is waited for, and then by every concurrent reader on one shared load: a burst on
an expired entry is one query, not one per request.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from channels.db import database_sync_to_async

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LoadingCache(Generic[K, V]):
    def __init__(
        self, load: Callable[[K], V], *, ttl: Callable[[], float], max_entries: int = 100_000
    ) -> None:
        self._load = database_sync_to_async(load)
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}  # key → (when its load started, value)
        self._loading: dict[K, asyncio.Task] = {}
        self._generation = 0  # bumped by clear(), so a load begun before it is not kept

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self._loading.clear()
        self._generation += 1

    async def get(self, key: K) -> V:
        hit = self._entries.get(key)
        if hit is not None:
            age, ttl = time.monotonic() - hit[0], self.ttl()
            if age < ttl:
                if age >= ttl / 2:
                    self._loader(key, background=True)
                return hit[1]
        return await asyncio.shield(self._loader(key))

    def _loader(self, key: K, *, background: bool = False) -> asyncio.Task:
        loop = asyncio.get_running_loop()
        task = self._loading.get(key)
        if task is None or task.get_loop() is not loop:
            task = loop.create_task(self._reload(key))
            self._loading[key] = task
            if background:
                task.add_done_callback(_log_failure)
        return task

    async def _reload(self, key: K) -> V:
        generation, started = self._generation, time.monotonic()
        try:
            value = await self._load(key)
        finally:
            if self._loading.get(key) is asyncio.current_task():
                del self._loading[key]
        if generation == self._generation:
            if len(self._entries) >= self.max_entries and key not in self._entries:
                # Misses are cached too, so a flood of made-up keys must not grow it forever.
                self._entries.clear()
            self._entries[key] = (started, value)
        return value


def _log_failure(task: asyncio.Task) -> None:
    """A failed background reload: the entry in hand is still served until its ttl."""
    if not task.cancelled() and task.exception() is not None:
        log.error("Reloading a cached entry failed", exc_info=task.exception())
