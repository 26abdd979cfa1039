"""Load generators; each measures latency per request on its own side of the socket.

- `wrk_run`: closed loop at a fixed concurrency with Debian's `wrk` (C, thousands of req/s
  on one core) and `wrk_post.lua`; used for throughput and for non-streamed latency.
- `stream_run`: an asyncio client over raw sockets, one keep-alive connection per worker,
  timing the first body byte (TTFB) and the end of each streamed answer.
- `open_loop_run`: a fixed offered rate; each request's latency counts from the moment it
  was *due*, so a slow server cannot hide its delay by slowing the generator down.
- `hold_streams`: opens N slow streams at once and calls back while all are open.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

WRK_SCRIPT = Path(__file__).with_name("wrk_post.lua")


@dataclass
class Result:
    """One load run. Latencies in milliseconds."""

    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    ttfb_p50: float | None = None
    ttfb_p99: float | None = None
    overhead_p50: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_run(url: str, body: bytes, auth: str, connections: int, seconds: float) -> Result:
    """Closed loop: `connections` connections, each sending the next request on an answer."""
    threads = max(1, min(2, connections))
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        f.write(body)
        f.flush()
        cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
               "--timeout", "10s", "-s", str(WRK_SCRIPT), url, "--", f.name, auth, "1"]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in out.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        return Result(errors=1, note=f"wrk failed: {out.stderr.strip()[:200]}")
    d = json.loads(line[8:])
    errors = sum(
        d[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout")
    )
    return Result(
        requests=d["requests"] - d["err_status"],
        errors=errors,
        seconds=d["duration_us"] / 1e6,
        p50=d["p50_us"] / 1000,
        p95=d["p95_us"] / 1000,
        p99=d["p99_us"] / 1000,
        overhead_p50=d["overhead_ms_p50"],
    )


class Conn:
    """One HTTP/1.1 keep-alive connection; just enough client for a benchmark."""

    def __init__(self, url: str, auth: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = (
            parts.hostname or "127.0.0.1",
            parts.port or 80,
            parts.path,
        )
        self.auth = auth
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = time.perf_counter()

    async def request(
        self, body: bytes, first: asyncio.Event | None = None
    ) -> tuple[int, float, float, str | None]:
        """Sends one POST; returns (status, ttfb_s, total_s, x-jinf-overhead-ms)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, limit=1 << 20
            )
        assert self.reader is not None
        auth = f"authorization: {self.auth}\r\n" if self.auth else ""
        head = (f"POST {self.path} HTTP/1.1\r\nhost: {self.host}:{self.port}\r\n{auth}"
                f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n")  # fmt: skip
        start = time.perf_counter()
        self.writer.write(head.encode() + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        ttfb = None
        if "content-length" in headers:
            await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(size + 2)
                if ttfb is None:
                    ttfb = time.perf_counter() - start
                    if first is not None:
                        first.set()
                if size == 0:
                    break
        else:
            await self.reader.read()
            self.close()
        total = time.perf_counter() - start
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, ttfb if ttfb is not None else total, total, headers.get("x-jinf-overhead-ms")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class _Tally:
    total: list[float] = field(default_factory=list)
    ttfb: list[float] = field(default_factory=list)
    overhead: list[float] = field(default_factory=list)
    errors: int = 0
    notes: set[str] = field(default_factory=set)

    async def one(
        self, conn: Conn, body: bytes, due: float | None = None, first: asyncio.Event | None = None
    ) -> None:
        try:
            status, ttfb, total, overhead = await asyncio.wait_for(conn.request(body, first), 30)
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            TimeoutError,
            ValueError,
        ) as exc:
            conn.close()
            self.errors += 1
            self.notes.add(type(exc).__name__)
            return
        if status != 200:
            self.errors += 1
            self.notes.add(f"HTTP {status}")
            return
        late = (time.perf_counter() - total - due) if due is not None else 0.0
        self.total.append((total + late) * 1000)
        self.ttfb.append((ttfb + late) * 1000)
        if overhead is not None:
            self.overhead.append(float(overhead))

    def result(self, seconds: float) -> Result:
        return Result(
            requests=len(self.total), errors=self.errors, seconds=seconds,
            p50=percentile(self.total, 50), p95=percentile(self.total, 95),
            p99=percentile(self.total, 99), ttfb_p50=percentile(self.ttfb, 50),
            ttfb_p99=percentile(self.ttfb, 99), overhead_p50=percentile(self.overhead, 50),
            note=", ".join(sorted(self.notes)),
        )  # fmt: skip


async def stream_run(
    url: str, body: bytes, auth: str, concurrency: int, count: int, seconds: float
) -> Result:
    """Closed loop of `count` requests (or until `seconds`), timing TTFB and total."""
    tally, left = _Tally(), [count]
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        conn = Conn(url, auth)
        while left[0] > 0 and time.perf_counter() < deadline:
            left[0] -= 1
            await tally.one(conn, body)
        conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return tally.result(time.perf_counter() - start)


async def open_loop_run(
    url: str, body: bytes, auth: str, rate: float, seconds: float, max_conns: int = 512
) -> Result:
    """`rate` requests per second for `seconds`, on as many connections as it takes."""
    tally, idle, tasks, opened = _Tally(), [], [], [0]
    start = time.perf_counter()

    async def send(due: float) -> None:
        # A connection idle for seconds may be closed by the server's keep-alive timeout
        # just as we reuse it; drop those, as an HTTP client's pool does.
        while idle and time.perf_counter() - idle[-1].last_used > 2.0:
            idle.pop().close()
            opened[0] -= 1
        if idle:
            conn = idle.pop()
        elif opened[0] < max_conns:
            opened[0] += 1
            conn = Conn(url, auth)
        else:
            tally.errors += 1
            tally.notes.add("generator out of connections")
            return
        await tally.one(conn, body, due=due)
        conn.last_used = time.perf_counter()
        idle.append(conn)

    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(send(due)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    result = tally.result(time.perf_counter() - start)
    result.extra["connections"] = opened[0]
    return result


async def hold_streams(
    url: str,
    body: bytes,
    auth: str,
    n: int,
    while_open: Callable[[], Awaitable[dict]],
    ramp_s: float = 2.0,
) -> Result:
    """Opens `n` slow streams over `ramp_s`; once every one has had its first byte (or
    after a timeout), awaits `while_open()` and keeps what it returns in `extra`."""
    tally, firsts = _Tally(), [asyncio.Event() for _ in range(n)]

    async def one(i: int) -> None:
        await asyncio.sleep(ramp_s * i / n)
        conn = Conn(url, auth)
        try:
            await tally.one(conn, body, first=firsts[i])
        finally:
            firsts[i].set()
            conn.close()

    start = time.perf_counter()
    tasks = [asyncio.ensure_future(one(i)) for i in range(n)]
    waiting = [asyncio.ensure_future(e.wait()) for e in firsts]
    _, pending = await asyncio.wait(waiting, timeout=ramp_s + 20)
    for w in pending:
        w.cancel()
    extra = await while_open()
    _, late = await asyncio.wait(tasks, timeout=60)
    for task in late:
        task.cancel()
    result = tally.result(time.perf_counter() - start)
    result.extra = {**extra, "all_open": not pending, "unfinished": len(late)}
    return result
