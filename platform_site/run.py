"""`make run`: the ASGI server, a Celery worker and Celery beat, stopped together.

Ctrl-C (or SIGTERM) stops all three; if any one exits, the others are stopped too, so a
half-running platform never lingers.
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


def commands() -> dict[str, list[str]]:
    celery = [os.path.join(BIN, "celery"), "-A", "platform_site"]
    return {
        "web": [
            os.path.join(BIN, "uvicorn"),
            "platform_site.asgi:application",
            "--host", HOST,
            "--port", PORT,
            "--workers", os.environ.get("WEB_CONCURRENCY", "1"),
            "--no-access-log",
            "--lifespan", "on",
        ],
        "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "1",
                   "--without-gossip", "--without-mingle"],
        "beat": [*celery, "beat", "--loglevel", "INFO"],
        "sandbox": [sys.executable, "-m", "sandbox",
                    "--host", "127.0.0.1", "--port", SANDBOX_PORT],
    }  # fmt: skip


def main() -> int:
    procs = {
        name: subprocess.Popen(cmd, start_new_session=True) for name, cmd in commands().items()
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
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()  # each leader shuts its own children down (Celery's pool)
    deadline = time.monotonic() + 10
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    return 0 if not exited else 1


if __name__ == "__main__":
    sys.exit(main())
