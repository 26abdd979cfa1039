"""Per-key RPM and TPM in one-minute windows: in-process when embedded, Redis otherwise.

`check()` counts the request and reads the window's tokens in one step (one Lua call on
Redis); `add_tokens()` adds what a finished request used. Fixed windows: a key can reach
at most twice its limit across a window boundary, the usual trade for O(1) counters.
"""

import asyncio
import time
from dataclasses import dataclass

from django.conf import settings

from proxy.auth import KeyInfo
from proxy.translate.errors import ProxyError

WINDOW_S = 60

_CHECK = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return {n, tonumber(redis.call('GET', KEYS[2]) or '0')}
"""
_ADD = """
local t = redis.call('INCRBY', KEYS[1], ARGV[1])
if t == tonumber(ARGV[1]) then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return t
"""


@dataclass(frozen=True, slots=True)
class Quota:
    """What the response headers report."""

    rpm: int | None
    rpm_left: int | None
    tpm: int | None
    tpm_left: int | None

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = []
        if self.rpm is not None:
            out += [(b"x-ratelimit-limit-requests", b"%d" % self.rpm),
                    (b"x-ratelimit-remaining-requests", b"%d" % self.rpm_left)]  # fmt: skip
        if self.tpm is not None:
            out += [(b"x-ratelimit-limit-tokens", b"%d" % self.tpm),
                    (b"x-ratelimit-remaining-tokens", b"%d" % self.tpm_left)]  # fmt: skip
        return out


class _Local:
    def __init__(self) -> None:
        self.windows: dict[tuple[int, int], list[int]] = {}

    async def check(self, key_id: int, window: int) -> tuple[int, int]:
        slot = self.windows.get((key_id, window))
        if slot is None:
            if len(self.windows) > 10_000:
                self.windows = {k: v for k, v in self.windows.items() if k[1] >= window}
            slot = self.windows[(key_id, window)] = [0, 0]
        slot[0] += 1
        return slot[0], slot[1]

    async def add_tokens(self, key_id: int, window: int, tokens: int) -> None:
        self.windows.setdefault((key_id, window), [0, 0])[1] += tokens


class _Redis:
    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self.url = url
        self.clients: dict[asyncio.AbstractEventLoop, object] = {}
        self.redis = redis

    def _client(self):
        loop = asyncio.get_running_loop()
        c = self.clients.get(loop)
        if c is None:
            c = self.clients[loop] = self.redis.Redis.from_url(self.url)
            c.check_script = c.register_script(_CHECK)
            c.add_script = c.register_script(_ADD)
        return c

    async def check(self, key_id: int, window: int) -> tuple[int, int]:
        c = self._client()
        n, tokens = await c.check_script(
            keys=[f"jinf:rl:{key_id}:{window}:r", f"jinf:rl:{key_id}:{window}:t"],
            args=[WINDOW_S + 1],
        )
        return int(n), int(tokens)

    async def add_tokens(self, key_id: int, window: int, tokens: int) -> None:
        await self._client().add_script(
            keys=[f"jinf:rl:{key_id}:{window}:t"], args=[tokens, WINDOW_S + 1]
        )


_backend: _Local | _Redis | None = None


def backend() -> _Local | _Redis:
    global _backend
    if _backend is None:
        _backend = _Redis(settings.REDIS_URL) if settings.REDIS_URL else _Local()
    return _backend


def reset() -> None:
    global _backend
    _backend = None


def _limited(limit: str, now: float) -> ProxyError:
    wait = max(1, WINDOW_S - int(now) % WINDOW_S)
    return ProxyError(
        429,
        f"Rate limit reached: {limit} for this key. Retry in {wait} s (Retry-After).",
        type="rate_limit_error",
        code="rate_limit_exceeded",
        retry_after=str(wait),
    )


async def check(key: KeyInfo) -> Quota | None:
    """Counts this request; raises 429 with Retry-After when a limit is reached."""
    if key.budget_pico is not None and key.spent_pico >= key.budget_pico:
        raise ProxyError(
            429,
            "This key has spent its budget. Raise the key's budget in the portal "
            "or use another key.",
            type="rate_limit_error",
            code="budget_exceeded",
        )
    if key.rpm_limit is None and key.tpm_limit is None:
        return None
    now = time.time()
    requests, tokens = await backend().check(key.key_id, int(now) // WINDOW_S)
    if key.rpm_limit is not None and requests > key.rpm_limit:
        raise _limited(f"{key.rpm_limit} requests per minute", now)
    if key.tpm_limit is not None and tokens >= key.tpm_limit:
        raise _limited(f"{key.tpm_limit} tokens per minute", now)
    return Quota(
        rpm=key.rpm_limit,
        rpm_left=None if key.rpm_limit is None else max(0, key.rpm_limit - requests),
        tpm=key.tpm_limit,
        tpm_left=None if key.tpm_limit is None else max(0, key.tpm_limit - tokens),
    )


_pending: set[asyncio.Task] = set()


def count_tokens(key: KeyInfo, tokens: int) -> None:
    """Adds a finished request's tokens to the key's window, without waiting for it."""
    if key.tpm_limit is None or tokens <= 0:
        return
    task = asyncio.get_running_loop().create_task(
        backend().add_tokens(key.key_id, int(time.time()) // WINDOW_S, tokens)
    )
    _pending.add(task)  # held until done, so it is not collected mid-flight
    task.add_done_callback(_pending.discard)
