"""`make run`: the ASGI server, a Celery worker and Celery beat, stopped together.

Ctrl-C (or SIGTERM) stops all three; if any one exits, the others are stopped too, so a
half-running platform never lingers. The web server stops first and gracefully: open
streams get GRACEFUL_TIMEOUT_S to finish, then each is ended and recorded as a client
abort with what it consumed (platform_site.lifespan), and the usage is written; only a
server still running STOP_MARGIN_S after that is killed. The demo upstream stops last,
so that open streams are not cut by their upstream going away first.

Every web process writes its metrics under PROMETHEUS_MULTIPROC_DIR (default
var/prometheus), emptied before they start, so that /metrics sums all of them and no
earlier run's counters (platform_site.ops_metrics). The demo upstream always runs one
process, whatever WEB_CONCURRENCY says.

Several web processes need Redis: without it each would keep its own rate counters and
credit reservations, and the limits would not hold. It refuses to start that way.
"""

import os
import signal
import subprocess
import sys
import time

HOST = os.environ.get("HOST", "127.0.0.1")
PORT = os.environ.get("PORT", "8000")
# The demo upstream: answers without internet, streams and makes tool calls.
SANDBOX_PORT = os.environ.get("SANDBOX_PORT", str(int(PORT) + 1))
BIN = os.path.dirname(sys.executable)
WEB_CONCURRENCY = os.environ.get("WEB_CONCURRENCY", "1")
GRACEFUL_TIMEOUT_S = float(os.environ.get("GRACEFUL_TIMEOUT_S", "5"))
# Ending the open calls (up to 5 s) and writing the usage (up to 10 s), after the grace.
STOP_MARGIN_S = 20.0
# Idle keep-alive connections are closed after this (uvicorn's default, said here).
KEEP_ALIVE_S = 5
VAR_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "var")
METRICS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(VAR_DIR, "prometheus")


def commands() -> dict[str, list[str]]:
    celery = [os.path.join(BIN, "celery"), "-A", "platform_site"]
    return {
        "web": [
            os.path.join(BIN, "uvicorn"),
            "platform_site.asgi:application",
            "--host", HOST,
            "--port", PORT,
            "--workers", WEB_CONCURRENCY,
            "--no-access-log",
            "--lifespan", "on",
            "--timeout-graceful-shutdown", f"{GRACEFUL_TIMEOUT_S:g}",
            "--timeout-keep-alive", str(KEEP_ALIVE_S),
        ],
        "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "1",
                   "--without-gossip", "--without-mingle"],
        "beat": [*celery, "beat", "--loglevel", "INFO"],
        "sandbox": [sys.executable, "-m", "sandbox",
                    "--host", "127.0.0.1", "--port", SANDBOX_PORT],
    }  # fmt: skip


def refusal() -> str | None:
    """Why the platform must not start as configured, in words saying what to do."""
    try:
        workers = int(WEB_CONCURRENCY)
    except ValueError:
        return f"WEB_CONCURRENCY must be a whole number, got {WEB_CONCURRENCY!r}."
    if workers > 1 and not os.environ.get("REDIS_URL"):
        return (
            f"WEB_CONCURRENCY={workers} needs REDIS_URL: without Redis each web process keeps "
            "its own rate counters and credit reservations, so limits and credit would not "
            "hold across processes. Set REDIS_URL (e.g. redis://127.0.0.1:6379/0), or run "
            "one web process (WEB_CONCURRENCY=1)."
        )
    return None


def main() -> int:
    refused = refusal()
    if refused:
        print(refused, file=sys.stderr, flush=True)
        return 2
    fresh_metrics_dir(METRICS_DIR)
    web_env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": METRICS_DIR}
    procs = {
        name: subprocess.Popen(cmd, start_new_session=True, env=web_env if name == "web" else None)
        for name, cmd in commands().items()
    }
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    print(
        f"\n  portal        http://{HOST}:{PORT}/\n"
        f"  proxy         http://{HOST}:{PORT}/v1\n"
        f"  sandbox       http://127.0.0.1:{SANDBOX_PORT}/v1 (the demo upstream)\n"
        "  Ctrl-C stops the web server, the Celery worker, beat and the sandbox.\n",
        flush=True,
    )
    exited = None
    while not stopping and exited is None:
        exited = next((n for n, p in procs.items() if p.poll() is not None), None)
        time.sleep(0.2)
    if exited:
        print(f"{exited} exited with {procs[exited].returncode}; stopping the rest.", flush=True)
    # Each leader shuts its own children down (uvicorn's workers, Celery's pool).
    first = [n for n in procs if n != "sandbox"]
    _stop(procs, first, GRACEFUL_TIMEOUT_S + STOP_MARGIN_S)
    _stop(procs, ["sandbox"], 10)
    return 0 if not exited else 1


def fresh_metrics_dir(path: str) -> None:
    """An empty directory for the web processes' metric files: counters of processes
    gone (an earlier run's) would otherwise be summed into /metrics forever."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):  # only prometheus_client's files: the operator named it
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def _stop(procs: dict[str, subprocess.Popen], names: list[str], timeout_s: float) -> None:
    for name in names:
        if procs[name].poll() is None:
            procs[name].terminate()
    deadline = time.monotonic() + timeout_s
    for name in names:
        proc = procs[name]
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop in {timeout_s:g}s; killing it.", flush=True)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
