"""`make bench`: the same workloads, interleaved round by round, directly against the fake
upstream, through our gateway (embedded, big database, Postgres + Redis) and through the
LiteLLM proxy; prints a table of medians and writes bench/results/<date>.json.

    python -m bench.run [--quick] [--rounds N] [--scenario NAME ...] [--skip-litellm]
                        [--skip-bigdb] [--skip-postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import databases, loadgen, report, scenarios
from bench.targets import ROOT, Target, prepare_gateway_db, start_fake, start_gateway, start_litellm

RESULTS = ROOT / "bench" / "results"


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--quick", action="store_true", help="short rounds, fewer scenarios and targets (~2 min)"
    )
    p.add_argument(
        "--rounds",
        type=int,
        help="rounds of every scenario on every target (default 3; 1 with --quick)",
    )
    p.add_argument("--scenario", action="append", help="run only this scenario (repeatable)")
    p.add_argument("--skip-litellm", action="store_true")
    p.add_argument("--skip-bigdb", action="store_true", help="no gateway on the 10M-row database")
    p.add_argument("--skip-postgres", action="store_true", help="no gateway on Postgres + Redis")
    p.add_argument(
        "--workers", type=int, default=2, help="server processes of each proxy (default 2)"
    )
    p.add_argument(
        "--server",
        choices=["uvicorn", "granian"],
        default="uvicorn",
        help="the ASGI server under the gateway (default uvicorn, the production choice)",
    )
    return p.parse_args(argv)


def versions(targets: list[Target], server: str) -> dict[str, str]:
    import importlib.metadata as metadata

    import aiohttp
    import django
    import uvicorn

    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    out = {"python": platform.python_version(), "uvicorn": uvicorn.__version__, "django": django.__version__,
           "wrk": wrk.strip(), "cores": str(os.cpu_count()), "machine": platform.platform(),
           "commit": commit.strip(), "aiohttp": aiohttp.__version__,
           "server": f"{server} {metadata.version(server)}"}  # fmt: skip
    out.update({f"{t.name}": t.version for t in targets if t.version})
    return out


def start_targets(args: argparse.Namespace, workdir: Path, targets: list[Target]) -> None:
    """Appends each target as soon as it runs, so the caller's `finally` stops it."""
    fake = start_fake(workdir)
    targets.append(fake)
    upstream = fake.base_url
    gateways = [("gateway", databases.sqlite_empty)]
    if not (args.quick or args.skip_bigdb):
        gateways.append(("gateway-bigdb", databases.sqlite_big))
    if not (args.quick or args.skip_postgres):
        gateways.append(("gateway-pg", databases.postgres_redis))
    for name, make_db in gateways:
        print(f"starting {name} …", flush=True)
        env = make_db(workdir)
        key = prepare_gateway_db(env, upstream, workdir, name)
        targets.append(
            start_gateway(name, env, key, workdir, workers=args.workers, server=args.server)
        )
    if not args.skip_litellm:
        print("starting litellm …", flush=True)
        targets.append(start_litellm(upstream, workdir, workers=args.workers))


def warm_up(targets: list[Target]) -> None:
    body = scenarios.body(targets[0], scenarios.FULL[0])
    for target in targets:
        result = loadgen.wrk_run(target.chat_url, body, target.auth, 8, 2)
        if result.errors and not result.requests:
            raise RuntimeError(f"{target.name} fails every request: {result.note or 'see its log'}")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # so that `finally` stops every server on SIGTERM too


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if not loadgen.wrk_available():
        raise SystemExit("wrk is missing: `apt-get install -y wrk` (Debian's package).")
    chosen = scenarios.pick(args.scenario, args.quick)
    rounds = args.rounds or (1 if args.quick else 3)
    signal.signal(signal.SIGTERM, _interrupt)
    workdir = Path(tempfile.mkdtemp(prefix="jinf-bench-"))
    print(f"logs and databases in {workdir}", flush=True)
    targets: list[Target] = []
    runs: report.Runs = {s.name: {} for s in chosen}
    started = dt.datetime.now(dt.UTC)
    try:
        start_targets(args, workdir, targets)
        warm_up(targets)
        try:
            import uvloop

            loop_factory = uvloop.new_event_loop
        except ImportError:
            loop_factory = None
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            for n in range(rounds):
                for scenario in chosen:
                    for target in targets:
                        t0 = time.monotonic()
                        result = scenarios.run(scenario, target, runner)
                        runs[scenario.name].setdefault(target.name, []).append(result)
                        print(f"round {n + 1}/{rounds} {scenario.name:<11} {target.name:<14} "
                              f"p50 {result['p50'] or 0:8.2f} ms  p99 {result['p99'] or 0:8.2f} ms  "
                              f"{result['rps']:8.0f}/s  errors {result['errors']}  "
                              f"({time.monotonic() - t0:.0f} s)", flush=True)  # fmt: skip
        meta = versions(targets, args.server)
    finally:
        for target in reversed(targets):
            target.stop()
    rows = report.summarize(runs)
    print(f"\n{rounds} round(s), medians; + = added over the direct call of the same round\n")
    print(report.table(rows))
    print("\nIssue 5 targets (gateway, embedded mode):")
    print("\n".join(report.checks(rows)))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{started:%Y-%m-%dT%H%M%SZ}{'-quick' if args.quick else ''}.json"
    command = "python -m bench.run " + shlex.join(argv if argv is not None else sys.argv[1:])
    path.write_text(json.dumps({
        "date": started.isoformat(), "command": command.strip(), "rounds": rounds, "versions": meta,
        "scenarios": {s.name: s.about for s in chosen}, "summary": rows, "runs": runs,
        "checks": report.checks(rows),
    }, indent=1))  # fmt: skip
    print(f"\nwrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
