"""Three gateway hosts behind HAProxy, sharing the test's PostgreSQL and Redis, on one
machine: the topology of deploy/ and the README's operations section, with real
processes and real addresses.

    root namespace                       namespace jinf-t-<pid>-<n>-<i>, one per host
    ─────────────────────────────        ───────────────────────────────────────────
    HAProxy   127.0.0.1:<port>  ──────▶  uvicorn platform_site.asgi  10.77.X.1<i>:8000
    forwarder 10.77.X.1:5432 → PostgreSQL 127.0.0.1        │
    forwarder 10.77.X.1:638<i> → Redis    127.0.0.1   ◀────┘ (DATABASE_URL, REDIS_URL)
    sandbox   10.77.X.1:<port>  (the demo upstream)  ◀──── routes in the database

    with Cluster(3, tmp_path) as c:
        httpx.post(c.url + "/v1/chat/completions", ...)   # through HAProxy
        httpx.get(c.hosts[1].url + "/readyz")             # one host directly
        c.hosts[0].kill()                                  # SIGKILL
        c.redis_stall(1)                                   # host 1's Redis stops answering
        c.servers()                                        # HAProxy's view of each host

Every process and the network are removed on exit, on failure too.
"""

import contextlib
import csv
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template
from types import SimpleNamespace
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import connection

from tests.multihost.netns import Network, sweep, tool
from tests.processes import READY_TIMEOUT_S
from tests.proxy.conftest import load_routes

ROOT = Path(__file__).resolve().parents[2]
HOST_PORT = 8000
TEMPLATE = Path(__file__).with_name("haproxy.cfg.tmpl")
# Each request's stream takes ~100 ms upstream, so a kill always finds requests in flight.
# HAProxy's health check, and what the test waits for before it starts the load.
CHECK_PATH, CHECK_STATUS = "/readyz", 200
MODELS = {"demo": [{"model": "demo@chunks=5,delay_ms=20"}]}


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def _wait(predicate, what: str, proc: subprocess.Popen, log: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text(errors='replace')[-3000:]}")
        try:
            if predicate():
                return
        except (httpx.HTTPError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start: {log.read_text(errors='replace')[-3000:]}")


def _spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    out = open(log, "w")  # noqa: SIM115 - handed to the child, closed with it
    return subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


@dataclass
class Host:
    name: str  # HAProxy's server name, in each answer's x-jinf-host
    address: str
    proc: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.address}:{HOST_PORT}"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


class Cluster:
    def __init__(self, hosts: int, log_dir: Path) -> None:
        self.count = hosts
        self.log_dir = log_dir
        self.net = Network(hosts)
        self.hosts: list[Host] = []
        self.procs: list[subprocess.Popen] = []  # forwarders, sandbox, HAProxy
        self.redis_forwarders: list[subprocess.Popen] = []  # one per host: one can stall
        self.stats_socket = log_dir / "haproxy.sock"
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "Cluster":
        try:
            self._start()
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.redis_forwarders:  # a stopped process would not see SIGTERM
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
        for proc in [h.proc for h in self.hosts] + self.procs[::-1]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [h.proc for h in self.hosts] + self.procs[::-1]:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.net.destroy()
        self._forget_usage_stream()

    def _start(self) -> None:
        sweep()
        self.net.create()
        gateway = self.net.gateway_ip
        db = connection.settings_dict
        redis = urlsplit(settings.REDIS_URL)
        redis_target = f"{redis.hostname}:{redis.port or 6379}"
        pairs = {"postgres": [f"{gateway}:5432={db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"]}
        pairs |= {f"redis-{i}": [f"{gateway}:{6380 + i}={redis_target}"] for i in range(self.count)}
        for name, pair in pairs.items():
            log = self.log_dir / f"forward-{name}.log"
            proc = _spawn([sys.executable, "-m", "tests.multihost.forward", *pair], log)
            self.procs.append(proc)
            if name.startswith("redis"):
                self.redis_forwarders.append(proc)
            _wait(lambda log=log: "ready" in log.read_text(), f"The {name} forwarder", proc,
                  log, 20)  # fmt: skip

        sandbox_port = _free_port(gateway)
        sandbox_log = self.log_dir / "sandbox.log"
        sandbox = _spawn(
            [sys.executable, "-m", "sandbox", "--host", gateway, "--port", str(sandbox_port),
             "--log-level", "warning"],
            sandbox_log,
        )  # fmt: skip
        self.procs.append(sandbox)
        sandbox_url = f"http://{gateway}:{sandbox_port}"
        _wait(lambda: httpx.get(sandbox_url + "/v1/models", timeout=1).status_code in (200, 401),
              "The sandbox", sandbox, sandbox_log, 30)  # fmt: skip
        load_routes(SimpleNamespace(url=sandbox_url), MODELS)

        env = self.host_env()
        uvicorn = str(Path(sys.executable).with_name("uvicorn"))
        for i, address in enumerate(self.net.host_ips):
            log = self.log_dir / f"host-{i}.log"
            argv = [uvicorn, "platform_site.asgi:application", "--host", address,
                    "--port", str(HOST_PORT), "--lifespan", "on", "--no-access-log",
                    "--timeout-graceful-shutdown", "3", "--no-proxy-headers"]  # fmt: skip
            own = {**env, "REDIS_URL": self.redis_url(i), "CELERY_BROKER_URL": self.redis_url(i)}
            self.hosts.append(Host(f"h{i}", address, _spawn(self.net.exec(i, argv), log, own), log))
        for h in self.hosts:
            _wait(lambda h=h: httpx.get(h.url + CHECK_PATH, timeout=2).status_code == CHECK_STATUS,
                  f"Host {h.name}", h.proc, h.log_path, READY_TIMEOUT_S)  # fmt: skip

        self.port = _free_port("127.0.0.1")
        cfg = self.log_dir / "haproxy.cfg"
        cfg.write_text(
            Template(TEMPLATE.read_text()).substitute(
                stats_socket=self.stats_socket,
                check_path=CHECK_PATH,
                check_status=CHECK_STATUS,
                bind=f"127.0.0.1:{self.port}",
                servers="\n".join(
                    f"    server {h.name} {h.address}:{HOST_PORT}" for h in self.hosts
                ),
            )
        )
        haproxy_log = self.log_dir / "haproxy.log"
        haproxy = _spawn([tool("haproxy") or "haproxy", "-f", str(cfg), "-db"], haproxy_log)
        self.procs.append(haproxy)
        _wait(lambda: set(self.servers_status().values()) == {"UP"}, "HAProxy", haproxy,
              haproxy_log, 30)  # fmt: skip

    def redis_url(self, host: int) -> str:
        """Host `host`'s way to the test's Redis: a forwarder of its own, so that one
        host's Redis can stall (redis_stall) while the others' answers."""
        path = urlsplit(settings.REDIS_URL).path or "/0"
        return f"redis://{self.net.gateway_ip}:{6380 + host}{path}"

    def redis_stall(self, host: int) -> None:
        """Host `host`'s Redis stops answering (its forwarder is SIGSTOPped): connections
        open, commands get no reply, as with a Redis or a network that hangs."""
        self.redis_forwarders[host].send_signal(signal.SIGSTOP)

    def redis_resume(self, host: int) -> None:
        self.redis_forwarders[host].send_signal(signal.SIGCONT)

    def host_env(self) -> dict[str, str]:
        """The hosts' environment: the test's database through the forwarder (REDIS_URL
        is each host's own, redis_url)."""
        db = connection.settings_dict
        auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
        env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
        return {
            **env,
            "DATABASE_URL": f"postgres://{auth}@{self.net.gateway_ip}:5432/{db['NAME']}",
            "DB_CONN_MAX_AGE": "0",
            "LOG_LEVEL": "WARNING",
        }

    def stats(self) -> list[dict[str, str]]:
        """HAProxy's `show stat`: a row per frontend, backend and server."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(str(self.stats_socket))
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        text = data.decode().lstrip("# ")
        return list(csv.DictReader(line for line in text.splitlines() if line))

    def servers(self) -> dict[str, dict[str, str]]:
        return {r["svname"]: r for r in self.stats() if r["pxname"] == "hosts"}

    def servers_status(self) -> dict[str, str]:
        return {
            name: row["status"].split()[0]
            for name, row in self.servers().items()
            if name not in ("BACKEND", "FRONTEND")
        }

    def _forget_usage_stream(self) -> None:
        """The hosts' usage stream is keyed by their database address (billing.
        usage_journal.database_tag), unique to this run: delete it, not to leave it."""
        from billing import redis_client
        from billing.usage_journal import _tag

        db = connection.settings_dict
        key = f"jinf:usage:{_tag(db['ENGINE'], self.net.gateway_ip, 5432, db['NAME'])}"
        with contextlib.suppress(Exception):  # cleanup only; Redis may be what failed
            redis_client.sync_client().delete(key)
