"""The sliding minute in this process's memory, for the embedded mode (no REDIS_URL).

Exact for one process only: several web processes need Redis (proxy.rate_redis), and
`make run` refuses to start several without it. One lock makes an admission atomic across
the event loops and threads of the process; nothing in it awaits. Logs of limits no longer
used are dropped once a minute, so memory follows the last minute's traffic.
"""

import threading
import time
from collections import OrderedDict, deque

from proxy.rate_window import REQUESTS, WINDOW_MS, Limit, Verdict


class _Requests:
    __slots__ = ("stamps",)

    def __init__(self) -> None:
        self.stamps: deque[int] = deque()

    def prune(self, cutoff: int) -> int:
        stamps = self.stamps
        while stamps and stamps[0] <= cutoff:
            stamps.popleft()
        return len(stamps)

    def wait_ms(self, limit: int, now: int) -> int:
        # The oldest entries must leave until fewer than `limit` remain (never, for 0).
        if limit <= 0:
            return WINDOW_MS
        return self.stamps[len(self.stamps) - limit] + WINDOW_MS - now

    def newest(self) -> int | None:
        return self.stamps[-1] if self.stamps else None


class _Tokens:
    __slots__ = ("entries", "total")

    def __init__(self) -> None:
        self.entries: OrderedDict[str, list[int]] = OrderedDict()  # member → [stamp, tokens]
        self.total = 0

    def prune(self, cutoff: int) -> int:
        entries = self.entries
        while entries:
            member, (stamp, tokens) = next(iter(entries.items()))
            if stamp > cutoff:
                break
            del entries[member]
            self.total -= tokens
        return self.total

    def wait_ms(self, limit: int, now: int) -> int:
        need = self.total - limit + 1
        for stamp, tokens in self.entries.values():
            need -= tokens
            if need <= 0:
                return stamp + WINDOW_MS - now
        return WINDOW_MS  # not reached: the entries sum to the total

    def newest(self) -> int | None:
        return next(reversed(self.entries.values()))[0] if self.entries else None


class LocalWindows:
    def __init__(self) -> None:
        self.logs: dict[str, _Requests | _Tokens] = {}
        self.lock = threading.Lock()
        self.swept = 0

    def _log(self, limit: Limit) -> _Requests | _Tokens:
        log = self.logs.get(limit.name)
        if log is None:
            log = self.logs[limit.name] = _Requests() if limit.kind == REQUESTS else _Tokens()
        return log

    async def admit(
        self, limits: tuple[Limit, ...], member: str, tokens: int, now_ms: int | None
    ) -> Verdict:
        now = _now(now_ms)
        cutoff = now - WINDOW_MS
        with self.lock:
            self._sweep(now)
            logs = [self._log(limit) for limit in limits]
            used = tuple(log.prune(cutoff) for log in logs)
            waits = tuple(
                log.wait_ms(limit.limit, now) if held >= limit.limit else 0
                for log, limit, held in zip(logs, limits, used, strict=True)
            )
            admitted = not any(waits)
            if admitted:
                for log in logs:
                    if isinstance(log, _Requests):
                        log.stamps.append(now)
                    elif tokens > 0:
                        log.entries[member] = [now, tokens]
                        log.total += tokens
        return Verdict(admitted, used, waits)

    async def settle(
        self,
        limits: tuple[Limit, ...],
        member: str,
        reserved: int,
        actual: int,
        now_ms: int | None,
    ) -> None:
        now = _now(now_ms)
        with self.lock:
            for limit in limits:
                log = self._log(limit)
                assert isinstance(log, _Tokens)
                log.prune(now - WINDOW_MS)
                entry = log.entries.get(member) if reserved > 0 else None
                if entry is not None:
                    # Still in the window: the entry becomes what was used, where it was.
                    log.total += actual - entry[1]
                    if actual > 0:
                        entry[1] = actual
                    else:
                        del log.entries[member]
                elif actual > reserved:
                    # Its reservation has left the window (or there was none): what it
                    # used beyond it counts from now.
                    log.entries[member + "+"] = [now, actual - reserved]
                    log.total += actual - reserved

    def _sweep(self, now: int) -> None:
        if now - self.swept < WINDOW_MS:
            return
        self.swept = now
        cutoff = now - WINDOW_MS
        for name in [n for n, log in self.logs.items() if (log.newest() or 0) <= cutoff]:
            del self.logs[name]


def _now(now_ms: int | None) -> int:
    return int(time.monotonic() * 1000) if now_ms is None else now_ms
