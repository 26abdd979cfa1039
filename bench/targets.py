"""The servers a benchmark drives, each started in its own process group and stopped with it:
the fake upstream (the *direct* target), our gateway under uvicorn, and the LiteLLM proxy."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PROJECT_PY = ROOT / ".venv" / "bin" / "python"
LITELLM_VENV = BENCH / ".venv-litellm"
MASTER_KEY = "sk-bench-master"
HOLD_UPSTREAM = "bench@chunks=20,delay_ms=500"  # a 10 s stream, for the open-streams scenario
MODELS = {"bench": "bench", "bench-hold": HOLD_UPSTREAM, "bench-small": "bench"}
# The gateway's automatic model over two of them (the chat-auto scenarios); any other
# target is sent the model it would pick, `bench`, so the figures compare like with like.
AUTO = "bench-auto"
AUTO_ROUTE = (
    f"  - name: {AUTO}\n    auto:\n      candidates:\n"
    "        - {model: bench-small, max_input_tokens: 16}\n        - bench\n"
)


@dataclass
class Target:
    name: str
    base_url: str  # …/v1
    auth: str  # the Authorization header's value, or ""
    procs: list[subprocess.Popen] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=lambda: {m: m for m in [*MODELS, AUTO]})
    version: str = ""

    @property
    def chat_url(self) -> str:
        return self.base_url + "/chat/completions"

    def rss(self) -> int:
        """Resident memory of every process of the target, children included, in bytes."""
        total = 0
        for proc in self.procs:
            try:
                root = psutil.Process(proc.pid)
                for p in [root, *root.children(recursive=True)]:
                    total += p.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total

    def stop(self) -> None:
        for proc in self.procs:
            stop_group(proc)


def stop_group(proc: subprocess.Popen, grace: float = 8.0) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


class RssSampler:
    """Samples a target's RSS every `interval` seconds in a thread; `stop()` gives the peak."""

    def __init__(self, target: Target, interval: float = 0.1) -> None:
        self.target, self.interval, self.peak = target, interval, target.rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.wait(self.interval):
            self.peak = max(self.peak, self.target.rss())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._done.set()
        self._thread.join()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    out = log.open("ab")
    return subprocess.Popen(
        cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT, start_new_session=True
    )


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    """Until `url` answers at all (any HTTP status); else stops `proc` and raises with the
    log's tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.25)
    stop_group(proc)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"{url} did not come up (see {log}):\n{tail}")


def start_fake(workdir: Path, workers: int = 1) -> Target:
    port = free_port()
    log = workdir / "fake_upstream.log"
    cmd = [
        sys.executable,
        str(BENCH / "fake_upstream.py"),
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    proc = spawn(cmd, log)
    target = Target(
        "direct", f"http://127.0.0.1:{port}/v1", "", [proc], models={**MODELS, AUTO: "bench"}
    )
    wait_ready(f"http://127.0.0.1:{port}/", proc, log, timeout=15)
    return target


def manage(args: list[str], env: dict[str, str], log: Path) -> str:
    out = subprocess.run(
        [str(PROJECT_PY), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    with log.open("a") as f:
        f.write(f"$ manage.py {' '.join(args)}\n{out.stdout}{out.stderr}\n")
    if out.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return out.stdout


def gateway_env(database_url: str, redis_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "ROUTES_FILE")}
    env.update(DATABASE_URL=database_url, DEBUG="false", LOG_LEVEL="WARNING",
               SECRET_KEY="bench-secret-key-not-for-production-0123456789",
               API_KEY_DIGEST_SECRET="bench-digest-secret-not-for-production-9876543210",
               PROVIDER_SECRETS_KEY="YmVuY2gtcHJvdmlkZXItc2VjcmV0cy1rZXktMzJieXQ=",
               ALLOWED_HOSTS="127.0.0.1,localhost")  # fmt: skip
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def routes_yaml(upstream_base: str) -> str:
    models = "".join(
        f"  - name: {name}\n    price: {{input: 0.5, output: 1.5}}\n"
        f"    deployments: [{{provider: bench-upstream, model: '{upstream}'}}]\n"
        for name, upstream in MODELS.items()
    )
    return (
        "providers:\n  - name: bench-upstream\n    kind: openai\n"
        f"    base_url: {upstream_base}\n    api_key: bench\n    timeout_s: 60\n"
        f"models:\n{models}{AUTO_ROUTE}"
    )


def prepare_gateway_db(env: dict[str, str], upstream_base: str, workdir: Path, tag: str) -> str:
    """Migrates, loads the bench routes and mints a key; returns the key."""
    log = workdir / f"{tag}.setup.log"
    manage(["migrate", "--noinput", "-v", "0"], env, log)
    routes = workdir / f"{tag}.routes.yaml"
    routes.write_text(routes_yaml(upstream_base))
    manage(["loadroutes", str(routes)], env, log)
    return (
        manage(["mintkey", "--org", "bench", "--credits", "1000000"], env, log)
        .strip()
        .splitlines()[-1]
    )


def server_command(server: str, port: int, workers: int) -> list[str]:
    """The ASGI server serving the gateway: `uvicorn` (httptools, uvloop) or `granian`."""
    venv_bin = ROOT / ".venv" / "bin"
    if server == "granian":
        if not (venv_bin / "granian").exists():
            raise SystemExit("--server granian needs it in the venv: .venv/bin/pip install granian")
        return [str(venv_bin / "granian"), "--interface", "asgi", "platform_site.asgi:application",
                "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                "--loop", "uvloop", "--log-level", "warning"]  # fmt: skip
    return [str(venv_bin / "uvicorn"), "platform_site.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--no-access-log", "--lifespan", "on", "--log-level", "warning"]  # fmt: skip


def start_gateway(
    name: str,
    env: dict[str, str],
    key: str,
    workdir: Path,
    workers: int = 2,
    server: str = "uvicorn",
) -> Target:
    port = free_port()
    log = workdir / f"{name}.log"
    proc = spawn(server_command(server, port, workers), log, env)
    target = Target(name, f"http://127.0.0.1:{port}/v1", f"Bearer {key}", [proc])
    wait_ready(f"http://127.0.0.1:{port}/v1/models", proc, log)
    return target


def ensure_litellm(log: Path) -> str:
    """Creates bench/.venv-litellm with `litellm[proxy]` once; returns its version."""
    py = LITELLM_VENV / "bin" / "python"
    reqs = BENCH / "requirements-litellm.txt"
    stamp = LITELLM_VENV / ".installed"
    if not stamp.exists() or stamp.stat().st_mtime < reqs.stat().st_mtime:
        print(f"installing LiteLLM into {LITELLM_VENV} (once; log in {log}) …", flush=True)
        with log.open("ab") as out:
            if not py.exists():
                subprocess.run(
                    [sys.executable, "-m", "venv", str(LITELLM_VENV)],
                    check=True,
                    stdout=out,
                    stderr=out,
                )
            subprocess.run(
                [str(py), "-m", "pip", "install", "-q", "-r", str(reqs)],
                check=True,
                stdout=out,
                stderr=out,
            )
        stamp.touch()
    out = subprocess.run([str(py), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return out.stdout.strip()


def litellm_config(upstream_base: str) -> str:
    models = "".join(
        f"  - model_name: {name}\n    litellm_params:\n      model: 'openai/{upstream}'\n"
        f"      api_base: {upstream_base}\n      api_key: bench\n"
        for name, upstream in MODELS.items()
    )
    return (
        f"model_list:\n{models}"
        f"general_settings:\n  master_key: {MASTER_KEY}\n  disable_spend_logs: true\n"
        "litellm_settings:\n  telemetry: false\n  set_verbose: false\n  drop_params: true\n"
    )


def start_litellm(upstream_base: str, workdir: Path, workers: int = 2) -> Target:
    version = ensure_litellm(workdir / "litellm.install.log")
    config = workdir / "litellm.yaml"
    config.write_text(litellm_config(upstream_base))
    port = free_port()
    log = workdir / "litellm.log"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(LITELLM_LOG="ERROR", LITELLM_TELEMETRY="False", DISABLE_SCHEMA_UPDATE="true",
               NO_DOCS="true", LITELLM_LOCAL_MODEL_COST_MAP="True")  # fmt: skip
    cmd = [str(LITELLM_VENV / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1",
           "--port", str(port), "--num_workers", str(workers)]  # fmt: skip
    proc = spawn(cmd, log, env)
    target = Target(
        "litellm",
        f"http://127.0.0.1:{port}/v1",
        f"Bearer {MASTER_KEY}",
        [proc],
        version=version,
        models={**{m: m for m in MODELS}, AUTO: "bench"},
    )
    wait_ready(f"http://127.0.0.1:{port}/health/liveliness", proc, log, timeout=180)
    return target
