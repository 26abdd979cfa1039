"""The hot path's caches: one load per entry however many ask at once, reloads ahead of
staleness in the background, and never an entry older than its ttl."""

import asyncio
import logging
import threading
import time

import pytest

from proxy.loading_cache import LoadingCache

# database_sync_to_async tidies the thread's connections around each load.
pytestmark = pytest.mark.django_db


class Source:
    """A load that counts its calls, can be held back, and can fail."""

    def __init__(self) -> None:
        self.calls = 0
        self.value = "v1"
        self.release = threading.Event()
        self.release.set()
        self.fail = False

    def __call__(self, key: str) -> str:
        self.calls += 1
        self.release.wait(5)
        if self.fail:
            raise RuntimeError("database down")
        return f"{key}:{self.value}"


def run(coro):
    return asyncio.run(coro)


def test_concurrent_cold_reads_share_one_load() -> None:
    source = Source()
    cache = LoadingCache(source, ttl=lambda: 10.0)

    async def burst():
        return await asyncio.gather(*(cache.get("k") for _ in range(64)))

    assert run(burst()) == ["k:v1"] * 64
    assert source.calls == 1


def test_a_warm_entry_is_served_at_once_and_reloaded_in_the_background() -> None:
    source = Source()
    cache = LoadingCache(source, ttl=lambda: 0.4)

    async def scenario():
        assert await cache.get("k") == "k:v1"
        await asyncio.sleep(0.25)  # past half the ttl
        source.value, source.release = "v2", threading.Event()
        started = time.monotonic()
        assert await cache.get("k") == "k:v1"  # answered from memory, not waited for
        assert time.monotonic() - started < 0.05
        assert await cache.get("k") == "k:v1"  # one reload under way, not a second
        source.release.set()
        await asyncio.sleep(0.1)
        assert await cache.get("k") == "k:v2"
        assert source.calls == 2

    run(scenario())


def test_no_entry_is_served_past_its_ttl() -> None:
    source = Source()
    cache = LoadingCache(source, ttl=lambda: 0.1)

    async def scenario():
        await cache.get("k")
        source.value = "revoked"
        await asyncio.sleep(0.15)
        return await cache.get("k")

    assert run(scenario()) == "k:revoked"


def test_clear_drops_a_load_begun_before_it() -> None:
    source = Source()
    cache = LoadingCache(source, ttl=lambda: 10.0)

    async def scenario():
        source.release = threading.Event()
        pending = asyncio.ensure_future(cache.get("k"))
        await asyncio.sleep(0.05)
        cache.clear()
        source.release.set()
        await pending
        assert len(cache) == 0

    run(scenario())


def test_a_failed_background_reload_is_logged_and_the_entry_still_served(caplog) -> None:
    source = Source()
    cache = LoadingCache(source, ttl=lambda: 0.4)

    async def scenario():
        await cache.get("k")
        await asyncio.sleep(0.25)
        source.fail = True
        assert await cache.get("k") == "k:v1"
        await asyncio.sleep(0.05)
        assert await cache.get("k") == "k:v1"

    with caplog.at_level(logging.ERROR, logger="proxy.loading_cache"):
        run(scenario())
    assert "Reloading a cached entry failed" in caplog.text


def test_a_cold_load_that_fails_raises_to_the_reader() -> None:
    source = Source()
    source.fail = True
    cache = LoadingCache(source, ttl=lambda: 1.0)
    with pytest.raises(RuntimeError, match="database down"):
        run(cache.get("k"))
    assert len(cache) == 0


def test_the_cache_stays_bounded() -> None:
    cache = LoadingCache(Source(), ttl=lambda: 10.0, max_entries=3)

    async def fill():
        for i in range(10):
            await cache.get(f"k{i}")

    run(fill())
    assert len(cache) <= 3
