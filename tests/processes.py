"""Real processes and servers for the tests: a Celery worker, the ASGI server, commands.

The Celery worker:
It runs against the test database (the SQLite file or the Postgres test database) and
the configured broker (the filesystem broker, or Redis in CI), so a task travels the same
path as in production: commit → broker → another process → database.
"""

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.db import connection

READY_TIMEOUT_S = 60


def database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@dataclass
class Worker:
    proc: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text()


def start_worker(log_path: Path) -> Worker:
    celery = str(Path(sys.executable).with_name("celery"))
    env = {**os.environ, "DATABASE_URL": database_url()}
    log = open(log_path, "w")  # noqa: SIM115 - handed to the child, closed with it
    proc = subprocess.Popen(
        [celery, "-A", "platform_site", "worker", "--pool", "solo", "--loglevel", "INFO",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"The Celery worker exited: {log_path.read_text()[-2000:]}")
        if " ready." in log_path.read_text():
            return Worker(proc, log_path)
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"The Celery worker did not start: {log_path.read_text()[-2000:]}")


def start_beat(log_path: Path, schedule_path: Path) -> Worker:
    """Celery beat, sending the tasks of CELERY_BEAT_SCHEDULE (its intervals from this
    process's environment) through the configured broker."""
    celery = str(Path(sys.executable).with_name("celery"))
    env = {**os.environ, "DATABASE_URL": database_url()}
    log = open(log_path, "w")  # noqa: SIM115 - handed to the child, closed with it
    proc = subprocess.Popen(
        [celery, "-A", "platform_site", "beat", "--loglevel", "INFO", "-s", str(schedule_path)],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Celery beat exited: {log_path.read_text()[-2000:]}")
        if "beat: Starting" in log_path.read_text():
            return Worker(proc, log_path)
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"Celery beat did not start: {log_path.read_text()[-2000:]}")


def stop_worker(worker: Worker) -> None:
    worker.proc.terminate()
    try:
        worker.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.proc.kill()


def wait_for(predicate, timeout_s: float = 30.0, interval_s: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval_s)
    return False


def manage(
    *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Runs `manage.py` as an operator would, against the test database."""
    env = {**os.environ, **(env or {}), "DATABASE_URL": database_url()}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        env=env, capture_output=True, text=True, check=check, timeout=60,
    )  # fmt: skip


class AsgiServer:
    """The project's ASGI application served by uvicorn on a free loopback port, in a
    thread of the test process, so it shares the test database and settings."""

    def __init__(self) -> None:
        import uvicorn

        from platform_site.asgi import application

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            application,
            host="127.0.0.1",
            port=self.port,
            lifespan="on",
            log_level="warning",
            proxy_headers=False,  # TRUSTED_PROXIES decides, as in make run
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "AsgiServer":
        self.thread.start()
        if not wait_for(lambda: self.server.started, timeout_s=15, interval_s=0.05):
            raise RuntimeError("The ASGI server did not start.")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
