"""Why the gateway's upstream client is httpx's types over aiohttp's pool: the same bare
relay (bench/relay_app.py, one uvicorn worker) in front of the fake upstream, with
httpx.AsyncClient, with proxy.upstream's client, and with aiohttp alone.

    python -m bench.upstream_clients [--seconds 5]
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

from bench import loadgen, scenarios
from bench.targets import ROOT, Target, free_port, spawn, start_fake, wait_ready

CLIENTS = {
    "httpx": "httpx.AsyncClient (httpcore pool)",
    "ours": "proxy.upstream (httpx types, aiohttp pool)",
    "aiohttp": "aiohttp.ClientSession alone",
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="jinf-clients-"))
    fake = start_fake(workdir)
    rows = []
    try:
        for name, about in CLIENTS.items():
            port = free_port()
            env = dict(os.environ, UPSTREAM_URL=fake.chat_url, RELAY_CLIENT=name)
            cmd = [str(ROOT / ".venv" / "bin" / "uvicorn"), "bench.relay_app:app", "--port",
                   str(port), "--no-access-log", "--log-level", "warning", "--lifespan", "off"]  # fmt: skip
            proc = spawn(cmd, workdir / f"relay-{name}.log", env)
            target = Target(name, f"http://127.0.0.1:{port}/v1", "Bearer bench", [proc])
            try:
                wait_ready(f"http://127.0.0.1:{port}/", proc, workdir / f"relay-{name}.log")
                data = scenarios.body(target, scenarios.Scenario("x", "closed", "", 1))
                row = [about]
                for connections in (1, 64):
                    loadgen.wrk_run(target.chat_url, data, target.auth, connections, 1)  # warm
                    r = loadgen.wrk_run(
                        target.chat_url, data, target.auth, connections, args.seconds
                    )
                    row += [f"{r.p50:.2f}", f"{r.p99:.2f}", f"{r.rps:.0f}", str(r.errors)]
                rows.append(row)
                print(f"{about}: done", flush=True)
            finally:
                target.stop()
                time.sleep(0.5)
    finally:
        fake.stop()
    print(
        "\n| client | c1 p50 ms | c1 p99 ms | c1 req/s | errors | c64 p50 ms | c64 p99 ms | c64 req/s | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
