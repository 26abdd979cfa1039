"""In-process caches of database reads for the hot path: served from memory, reloaded in
the background before they go stale, one load per entry at a time.

An entry loaded at time t is served until t + ttl (the bound that, for keys, makes a
revocation reach every process within ttl). Once half of that has passed, the next
request that reads it starts a reload in the background and is answered from memory at
once, so a hot entry never makes a request wait on the database. Only a cold or expired
entry is waited for, and then by every concurrent reader on one shared load: a burst on
an expired entry is one query, not one per request.

While the database fails or is slow, an expired entry is still served, for up to
`stale()` seconds past its ttl (PROXY_CACHE_STALE_S): a request on it waits for its
reload `wait()` seconds at most (PROXY_CACHE_WAIT_S), counted from when that reload
began, so a hot entry (whose reload began at half its ttl) is answered at once. After a
failed reload the next is tried at most once per RETRY_S. With the database answering,
a reload always lands within the ttl, so the ttl stays the bound on staleness.
"""

import asyncio
import logging
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from channels.db import database_sync_to_async
from django.conf import settings

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

RETRY_S = 1.0  # after a failed reload, the next one no sooner


def _stale_s() -> float:
    return settings.PROXY_CACHE_STALE_S


def _wait_s() -> float:
    return settings.PROXY_CACHE_WAIT_S


class LoadingCache(Generic[K, V]):
    def __init__(
        self,
        load: Callable[[K], V],
        *,
        ttl: Callable[[], float],
        max_entries: int = 100_000,
        stale: Callable[[], float] = _stale_s,
        wait: Callable[[], float] = _wait_s,
    ) -> None:
        self._load = database_sync_to_async(load)
        self.ttl = ttl
        self.stale = stale
        self.wait = wait
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}  # key → (when its load started, value)
        self._loading: dict[K, tuple[float, asyncio.Task]] = {}  # key → (began, load)
        self._failed: dict[K, float] = {}  # key → when its last reload failed
        self._generation = 0  # bumped by clear(), so a load begun before it is not kept

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self._loading.clear()
        self._failed.clear()
        self._generation += 1

    def forget(self, key: K) -> None:
        """Drop one entry: its next read loads it afresh. Like clear(), it bumps the
        generation, so no load under way is kept (any key's: it is simply loaded again)."""
        self._entries.pop(key, None)
        self._loading.pop(key, None)
        self._failed.pop(key, None)
        self._generation += 1

    async def get(self, key: K) -> V:
        hit = self._entries.get(key)
        if hit is None:
            return await asyncio.shield(self._loader(key)[1])
        age, ttl = time.monotonic() - hit[0], self.ttl()
        if age < ttl:
            if age >= ttl / 2 and not self._failed_lately(key):
                self._loader(key, background=True)
            return hit[1]
        if age >= ttl + self.stale():
            return await asyncio.shield(self._loader(key)[1])
        return await self._fresh_or_stale(key, hit[1])

    async def _fresh_or_stale(self, key: K, stale: V) -> V:
        """An expired entry: its reload if that comes in time, else what is in hand."""
        if self._failed_lately(key):
            return stale
        began, task = self._loader(key, background=True)
        left = began + self.wait() - time.monotonic()
        if left > 0:
            done, _ = await asyncio.wait({task}, timeout=left)
            if done and not task.cancelled() and task.exception() is None:
                return task.result()
        return stale

    def _failed_lately(self, key: K) -> bool:
        failed = self._failed.get(key)
        return failed is not None and time.monotonic() - failed < RETRY_S

    def _loader(self, key: K, *, background: bool = False) -> tuple[float, asyncio.Task]:
        loop = asyncio.get_running_loop()
        loading = self._loading.get(key)
        if loading is None or loading[1].get_loop() is not loop:
            loading = (time.monotonic(), loop.create_task(self._reload(key)))
            self._loading[key] = loading
            if background:
                loading[1].add_done_callback(_log_failure)
        return loading

    async def _reload(self, key: K) -> V:
        generation, started = self._generation, time.monotonic()
        try:
            value = await self._load(key)
        except Exception:
            if generation == self._generation:
                if len(self._failed) >= self.max_entries:
                    self._failed.clear()
                self._failed[key] = time.monotonic()
            raise
        finally:
            loading = self._loading.get(key)
            if loading is not None and loading[1] is asyncio.current_task():
                del self._loading[key]
        if generation == self._generation:
            self._failed.pop(key, None)
            if len(self._entries) >= self.max_entries and key not in self._entries:
                # Misses are cached too, so a flood of made-up keys must not grow it forever.
                self._entries.clear()
                self._failed.clear()
            self._entries[key] = (started, value)
        return value


def _log_failure(task: asyncio.Task) -> None:
    """A failed background reload: the entry in hand is still served, up to its ttl
    while the database answers, and up to PROXY_CACHE_STALE_S past it while it fails."""
    if not task.cancelled() and task.exception() is not None:
        log.error("Reloading a cached entry failed", exc_info=task.exception())
