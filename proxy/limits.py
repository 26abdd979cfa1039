"""Requests and tokens per minute, per key and per organization, over a sliding minute.

    ticket = await limits.admit(key, estimated_tokens)   # 429 when a limit is reached
    headers = ticket.headers() if ticket else []          # x-ratelimit-* of the contract
    limits.settle(ticket, actual_tokens)                  # when the usage is known

`admit` checks and counts all of a request's limits at once (the key's RPM and TPM and
its organization's, which all its keys share): one Redis script call when REDIS_URL is
set (proxy.rate_redis), this process's memory otherwise (proxy.rate_local); nothing at
all when neither the key nor its organization has a rate limit. Tokens are reserved at
admission from the caller's estimate, so concurrent requests cannot all see an empty
window, and `settle` replaces the estimate by the actual count. The window's rules are in
proxy.rate_window.

A 429 says which limit, and its Retry-After is read from the log: the seconds until the
entry that blocks leaves the window. If Redis does not answer, the request gets a 503
that says so (logged), not a 500 and not an unlimited pass.
"""

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings

from proxy.auth import KeyInfo
from proxy.rate_local import LocalWindows
from proxy.rate_redis import RateLimiterDown, RedisWindows
from proxy.rate_window import (
    REQUESTS,
    TOKENS,
    Backend,
    Limit,
    Verdict,
    clamp,
    new_member,
)
from proxy.translate.errors import ProxyError

log = logging.getLogger(__name__)

DOWN_RETRY_AFTER_S = 5
DOWN_LOG_EVERY_S = 10.0


@dataclass(slots=True)
class Ticket:
    """An admitted request: what its response headers report and what settling needs."""

    key: KeyInfo
    limits: tuple[Limit, ...]
    used: tuple[int, ...]  # what each limit held before this request
    member: str
    tokens: int  # reserved in each tokens limit
    backend: Backend
    now_ms: int | None = None  # the injected clock's time, in tests
    settled: bool = field(default=False)

    def headers(self) -> list[tuple[bytes, bytes]]:
        """The contract's x-ratelimit-* headers, per kind: the key's limit (its
        organization's when the key has none of that kind) and what remains under the
        tightest of them after this request."""
        out = []
        for kind, name in ((REQUESTS, b"requests"), (TOKENS, b"tokens")):
            shown, remaining = None, None
            for limit, used in zip(self.limits, self.used, strict=True):
                if limit.kind != kind:
                    continue
                if shown is None or limit.scope == "key":
                    shown = limit.limit
                left = max(0, limit.limit - used - (1 if kind == REQUESTS else self.tokens))
                remaining = left if remaining is None else min(remaining, left)
            if shown is not None:
                out += [
                    (b"x-ratelimit-limit-" + name, b"%d" % shown),
                    (b"x-ratelimit-remaining-" + name, b"%d" % remaining),
                ]
        return out

    async def settle(self, tokens: int) -> None:
        """Replaces the reserved estimate by the `tokens` actually used (once)."""
        if self.settled:
            return
        self.settled = True
        tokens = clamp(tokens)
        token_limits = tuple(limit for limit in self.limits if limit.kind == TOKENS)
        if not token_limits or tokens == self.tokens:
            return
        now = None if self.now_ms is None else _now_ms()
        await self.backend.settle(token_limits, self.member, self.tokens, tokens, now)


_backend: Backend | None = None
_clock: Callable[[], float] | None = None  # seconds; tests inject one
_pending: set[asyncio.Task] = set()
_down_logged = 0.0


def backend() -> Backend:
    global _backend
    if _backend is None:
        _backend = RedisWindows() if settings.REDIS_URL else LocalWindows()
    return _backend


def use(new: Backend | None = None, *, clock: Callable[[], float] | None = None) -> None:
    """Tests: a backend of their own (a Redis prefix per test) and a clock in seconds."""
    global _backend, _clock
    _backend, _clock = new, clock


def reset() -> None:
    """Forgets the backend, its in-process logs and any injected clock."""
    use(None)


def limits_of(key: KeyInfo) -> tuple[Limit, ...]:
    found = (
        ("key", key.key_id, REQUESTS, key.rpm_limit),
        ("key", key.key_id, TOKENS, key.tpm_limit),
        ("organization", key.organization_id, REQUESTS, key.org_rpm_limit),
        ("organization", key.organization_id, TOKENS, key.org_tpm_limit),
    )
    return tuple(Limit(s, i, k, n) for s, i, k, n in found if n is not None)


async def admit(key: KeyInfo, tokens: int) -> Ticket | None:
    """Counts the request in all its limits, reserving `tokens` (the caller's estimate of
    the request's input and output) in the tokens limits; None when it has none. Raises
    the contract's 429 when a limit is reached, 503 when Redis does not answer."""
    limits = limits_of(key)
    if not limits:
        return None
    tokens = clamp(tokens)
    member = new_member()
    now = _now_ms()
    chosen = backend()
    verdict = await _admit(chosen, limits, member, tokens, now)
    if not verdict.admitted:
        raise _limited(limits, verdict)
    return Ticket(key, limits, verdict.used, member, tokens, chosen, now)


def settle(ticket: Ticket | None, tokens: int) -> None:
    """`ticket.settle(tokens)` without waiting for it (the usage path must not wait on
    Redis); a failure is logged. No-op without a ticket."""
    if ticket is None or ticket.settled:
        return
    _spawn(ticket.settle(tokens))


async def _admit(
    chosen: Backend, limits: tuple[Limit, ...], member: str, tokens: int, now: int | None
) -> Verdict:
    try:
        return await chosen.admit(limits, member, tokens, now)
    except RateLimiterDown as exc:
        _log_down(exc)
        raise ProxyError(
            503,
            "The gateway cannot check this key's rate limits right now (its Redis does "
            f"not answer). Retry in {DOWN_RETRY_AFTER_S} s; if it persists, tell the "
            "gateway's operator.",
            type="api_error",
            code="rate_limiter_unavailable",
            retry_after=str(DOWN_RETRY_AFTER_S),
        ) from exc


def _limited(limits: tuple[Limit, ...], verdict: Verdict) -> ProxyError:
    """The 429 of the limit that keeps the request out longest (all must have room)."""
    wait_ms, limit = max(zip(verdict.wait_ms, limits, strict=True), key=lambda pair: pair[0])
    wait = max(1, math.ceil(wait_ms / 1000))
    unit = "requests" if limit.kind == REQUESTS else "tokens"
    whose = (
        "this key's limit"
        if limit.scope == "key"
        else "your organization's limit, shared by all its keys,"
    )
    return ProxyError(
        429,
        f"Rate limit reached: {whose} of {limit.limit} {unit} per minute. "
        f"Retry in {wait} s (Retry-After), or ask for a higher limit.",
        type="rate_limit_error",
        code="rate_limit_exceeded",
        retry_after=str(wait),
    )


def _now_ms() -> int | None:
    return None if _clock is None else round(_clock() * 1000)


def _log_down(exc: Exception) -> None:
    """One line per DOWN_LOG_EVERY_S: a Redis outage under load is not a log flood."""
    global _down_logged
    now = time.monotonic()
    if now - _down_logged >= DOWN_LOG_EVERY_S:
        _down_logged = now
        log.error("Rate limits unavailable, answering 503: Redis does not answer (%s)", exc)


def _spawn(coro) -> None:
    task = asyncio.get_running_loop().create_task(coro)
    _pending.add(task)  # held until done, so it is not collected mid-flight
    task.add_done_callback(_settled)


def _settled(task: asyncio.Task) -> None:
    _pending.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("A rate-limit settlement failed: %s", task.exception())


async def drain() -> None:
    """Waits for the settlements in flight (tests; a graceful shutdown may too)."""
    while _pending:
        await asyncio.gather(*list(_pending), return_exceptions=True)
