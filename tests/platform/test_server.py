"""Issue 13, the HTTP server: `WEB_CONCURRENCY=2` serves /v1 from two processes, and slow
or oversized bodies are cut at the edge (platform_site.body_limits) while ordinary
requests keep their pace.

Everything runs against `python -m platform_site.run`, as `make run` starts it: its own
SQLite file, Redis DB 7 (two web processes need Redis), the demo upstream.
"""

import asyncio
import contextlib
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import httpx
import psutil
import pytest
import redis

from tests.processes import wait_for

REDIS_URL = "redis://127.0.0.1:6379/7"
BODY_TIMEOUT_S = 2.0
TRICKLERS = 200
CHAT = {"model": "demo-fast", "messages": [{"role": "user", "content": "hello"}]}


def _redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).flushdb()
    except redis.RedisError as exc:
        if os.environ.get("REQUIRE_SHARED") == "1":
            pytest.fail(f"REQUIRE_SHARED=1 but Redis does not answer: {exc}")
        pytest.skip(f"needs Redis at {REDIS_URL}: {exc}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Platform:
    def __init__(self, runner: subprocess.Popen, port: int, key: str, log_path) -> None:
        self.runner, self.port, self.key, self.log_path = runner, port, key, log_path
        self.url = f"http://127.0.0.1:{port}"

    def web_workers(self) -> list[psutil.Process]:
        """uvicorn's worker processes: the children the web server spawned (not its
        multiprocessing resource tracker)."""
        for child in psutil.Process(self.runner.pid).children():
            if "uvicorn" in " ".join(child.cmdline()):
                return [p for p in child.children() if "spawn_main" in " ".join(p.cmdline())]
        return []


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    _redis_or_skip()
    tmp = tmp_path_factory.mktemp("server")
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "REDIS_URL": REDIS_URL,
        "PORT": str(port),
        "SANDBOX_PORT": str(_free_port()),
        "WEB_CONCURRENCY": "2",
        "PROXY_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus"),
        "LOG_LEVEL": "WARNING",
    }
    env.pop("CELERY_BROKER_URL", None)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v", "0"], env=env, check=True, timeout=180)
    seed = subprocess.run(
        [py, "manage.py", "seeddemo"], env=env, check=True, capture_output=True, text=True
    )
    key = seed.stdout.split("demo key      ")[1].split()[0]
    log_path = tmp / "run.log"
    log = open(log_path, "w")  # noqa: SIM115 - handed to the child, closed with it
    runner = subprocess.Popen(
        [py, "-m", "platform_site.run"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    plat = Platform(runner, port, key, log_path)
    children: list[psutil.Process] = []
    try:

        def ready() -> bool:
            try:
                r = httpx.post(plat.url + "/v1/chat/completions", json=CHAT, headers=_auth(key))
                return r.status_code == 200 and len(plat.web_workers()) == 2
            except httpx.TransportError:
                return False

        assert wait_for(ready, timeout_s=90), log_path.read_text()[-3000:]
        children = psutil.Process(runner.pid).children(recursive=True)
        yield plat
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            children = children or psutil.Process(runner.pid).children(recursive=True)
        runner.terminate()
        try:
            runner.wait(timeout=40)
        except subprocess.TimeoutExpired:
            runner.kill()
        for child in children:
            if child.is_running():
                child.kill()
        log.close()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _chat_on(conn: http.client.HTTPConnection, key: str) -> tuple[int, float]:
    body = httpx.Request("POST", "http://x", json=CHAT).read()
    started = time.perf_counter()
    conn.request(
        "POST",
        "/v1/chat/completions",
        body=body,
        headers={**_auth(key), "Content-Type": "application/json"},
    )
    response = conn.getresponse()
    response.read()
    return response.status, (time.perf_counter() - started) * 1000


def test_web_concurrency_2_serves_v1_from_two_processes(platform):
    workers = platform.web_workers()
    assert len(workers) == 2, [w.cmdline() for w in workers]
    # Each connection, held open, is owned by the one worker that accepted it: its
    # answer came from that process. Open connections until both have answered.
    served: dict[int, int] = {w.pid: 0 for w in workers}
    conns = []
    try:
        for _ in range(60):
            conn = http.client.HTTPConnection("127.0.0.1", platform.port, timeout=10)
            status, _ms = _chat_on(conn, platform.key)
            assert status == 200
            conns.append(conn)
            client_port = conn.sock.getsockname()[1]
            owner = [
                w.pid
                for w in workers
                for c in w.net_connections(kind="tcp")
                if c.laddr.port == platform.port and c.raddr and c.raddr.port == client_port
            ]
            assert len(owner) == 1, owner
            served[owner[0]] += 1
            if all(served.values()) and len(conns) >= 10:
                break
    finally:
        for conn in conns:
            conn.close()
    print(f"\n/v1 answered over {len(conns)} connections, per web process: {served}")
    assert all(n > 0 for n in served.values()), served
    assert "sandbox exited" not in platform.log_path.read_text()


def test_a_declared_oversized_body_is_refused_at_once(platform):
    with socket.create_connection(("127.0.0.1", platform.port), timeout=5) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + platform.key.encode() + b"\r\n"
            b"Content-Length: 67108864\r\n\r\n"
        )
        answer = _read_until_closed(sock)
        elapsed = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"request_too_large" in body and b'"error"' in body
    assert elapsed < 2.0, elapsed  # at once, not after a 64 MiB wait or the body timeout


def test_oversized_headers_are_refused(platform):
    r = httpx.get(platform.url + "/v1/models", headers={"x-big": "a" * 70_000})
    assert r.status_code == 431
    assert r.json()["error"]["code"] == "headers_too_large"


def _read_until_closed(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


async def _open_trickler(port: int, key: str):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + key.encode() + b"\r\nContent-Length: 1000\r\n\r\n"
    )
    await writer.drain()
    return reader, writer, time.monotonic()


async def _trickle(reader, writer, started: float) -> tuple[bytes, float]:
    """A body of 1000 bytes declared, sent one byte a second; what came back, and when
    the server closed the connection (seconds after the headers)."""
    answer = b""
    try:
        while time.monotonic() - started < BODY_TIMEOUT_S + 10:
            if not answer:  # one byte a second until the server answers
                writer.write(b"{")
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
            try:
                chunk = await asyncio.wait_for(reader.read(65536), 1.0)
            except TimeoutError:
                continue
            except ConnectionError:
                break  # reset: the server closed while a byte was in flight
            if not chunk:
                break  # closed by the server
            answer += chunk
    finally:
        writer.close()
    return answer, time.monotonic() - started


TRICKLERS_MAIN = f"""
import asyncio, json, sys
from tests.platform.test_server import _trickle
from tests.platform.test_server import _open_trickler
async def main():
    opened = await asyncio.gather(*(_open_trickler(int(sys.argv[1]), sys.argv[2])
                                    for _ in range({TRICKLERS})))
    print("trickling", flush=True)
    return await asyncio.gather(*(_trickle(*o) for o in opened))
print(json.dumps([(a.hex(), t) for a, t in asyncio.run(main())]))
"""


def test_slowloris_bodies_are_cut_while_ordinary_requests_keep_their_pace(platform):
    conn = http.client.HTTPConnection("127.0.0.1", platform.port, timeout=10)
    baseline = [_chat_on(conn, platform.key)[1] for _ in range(200)]

    during: list[float] = []
    statuses: list[int] = []
    measuring, stop = threading.Event(), threading.Event()

    def ordinary() -> None:
        while not stop.is_set():
            status, ms = _chat_on(conn, platform.key)
            if measuring.is_set():
                statuses.append(status)
                during.append(ms)

    thread = threading.Thread(target=ordinary)
    thread.start()
    # The tricklers in a process of their own, so that they do not slow this one's
    # measurements; these start once all of them have sent their headers.
    tricklers = subprocess.Popen(
        [sys.executable, "-c", TRICKLERS_MAIN, str(platform.port), platform.key],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert tricklers.stdout.readline().strip() == "trickling"
        measuring.set()
        out = tricklers.stdout.read()
        assert tricklers.wait(timeout=60) == 0
    finally:
        stop.set()
        thread.join(timeout=30)
        conn.close()
        if tricklers.poll() is None:
            tricklers.kill()
    results = [(bytes.fromhex(a), t) for a, t in json.loads(out)]

    cut = [r for r in results if r[0].startswith(b"HTTP/1.1 408")]
    closed_after = sorted(t for _, t in results)
    p99_base = statistics.quantiles(baseline, n=100)[98]
    p99 = statistics.quantiles(during, n=100)[98]
    print(
        f"\n{TRICKLERS} trickling bodies (1 byte/s, PROXY_BODY_TIMEOUT_S={BODY_TIMEOUT_S:g}):"
        f" {len(cut)} answered 408, closed after {closed_after[0]:.2f}-{closed_after[-1]:.2f} s"
        f"\nordinary /v1 requests: before p50 {statistics.median(baseline):.1f} ms"
        f" p99 {p99_base:.1f} ms; meanwhile {len(during)} requests,"
        f" p50 {statistics.median(during):.1f} ms p99 {p99:.1f} ms max {max(during):.1f} ms"
    )
    assert len(cut) == TRICKLERS, [r[0][:60] for r in results if r not in cut][:3]
    assert all(b"request_timeout" in answer for answer, _ in results)
    # Closed within the timeout, give or take the client's one-second reads.
    assert closed_after[-1] < BODY_TIMEOUT_S + 2.5, closed_after[-5:]
    assert set(statuses) == {200}, set(statuses)
    assert len(during) >= 20
    assert p99 < 50, f"p99 {p99:.1f} ms while bodies trickled"
