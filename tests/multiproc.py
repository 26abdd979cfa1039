"""Several gateway processes for the tests that prove limits, credit and usage across
processes: each one a real `uvicorn platform_site.asgi:application` on its own loopback
port, over the test database and (when the suite has one) Redis.

    with Gateways(2) as gw:            # two processes, ports gw.urls[0] and gw.urls[1]
        httpx.post(gw.urls[i % 2] + "/v1/chat/completions", ...)
        gw.procs[0].kill()             # SIGKILL one of them

Routes, organizations and keys are rows the test writes first (transactional_db), so the
processes read them from the database like production does.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from tests.processes import READY_TIMEOUT_S, database_url

ROOT = Path(__file__).resolve().parent.parent


def needs_shared_services() -> None:
    """Skips unless the suite runs on Postgres + Redis (the second pass of .ci/run, which
    sets REQUIRE_SHARED=1 so that a skip there is a failure)."""
    from django.db import connection

    missing = []
    if connection.vendor != "postgresql":
        missing.append("PostgreSQL")
    if not settings.REDIS_URL:
        missing.append("REDIS_URL")
    if missing:
        if os.environ.get("REQUIRE_SHARED") == "1":
            pytest.fail("REQUIRE_SHARED=1 but this run has no " + " and no ".join(missing))
        pytest.skip("needs " + " and ".join(missing) + " (the second pass of .ci/run)")


def usage_stream_clear() -> None:
    """Empties the test database's usage stream (billing.usage_stream), consumer group and
    all: entries an earlier test's killed process left pending would otherwise be claimed
    into this test's records."""
    from billing import redis_client, usage_stream

    redis_client.sync_client().delete(usage_stream.stream_key())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gateway:
    """One uvicorn process; its output goes to `log_path`."""

    def __init__(self, port: int, log_path: Path, env: dict[str, str], graceful_s: float) -> None:
        self.port = port
        self.log_path = log_path
        uvicorn = str(Path(sys.executable).with_name("uvicorn"))
        log = open(log_path, "w")  # noqa: SIM115 - handed to the child, closed with it
        self.proc = subprocess.Popen(
            [uvicorn, "platform_site.asgi:application", "--host", "127.0.0.1",
             "--port", str(port), "--lifespan", "on", "--no-access-log",
             "--timeout-graceful-shutdown", str(int(graceful_s)), "--no-proxy-headers"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"A gateway process exited: {self.log()[-3000:]}")
            try:
                # Any answer of the proxy's own (401 without a key) means it serves.
                if httpx.get(self.url + "/v1/models", timeout=1).status_code == 401:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"A gateway process did not start: {self.log()[-3000:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self, timeout_s: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)


class Gateways:
    def __init__(
        self,
        count: int,
        log_dir: Path,
        *,
        env: dict[str, str] | None = None,
        graceful_s: float = 10.0,
    ) -> None:
        base = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "DB_CONN_MAX_AGE": "0",
            "LOG_LEVEL": "WARNING",
            **(env or {}),
        }
        self.procs = [
            Gateway(free_port(), log_dir / f"gateway-{i}.log", base, graceful_s)
            for i in range(count)
        ]

    @property
    def urls(self) -> list[str]:
        return [g.url for g in self.procs]

    def __enter__(self) -> "Gateways":
        try:
            for g in self.procs:
                g.wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for g in self.procs:
            if g.proc.poll() is None:
                g.proc.send_signal(signal.SIGTERM)
        for g in self.procs:
            try:
                g.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                g.proc.kill()
