"""A graceful shutdown records every open stream: SIGTERM of a gateway process, and
`make run`'s Ctrl-C, with 40 slow streams open. uvicorn gives them the graceful timeout,
then the lifespan ends each (proxy.inflight), which records it as a client abort with what
it consumed, and writes the usage before the process exits."""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from billing.models import UsageRecord
from tests.multiproc import Gateways, free_port, needs_shared_services, usage_stream_clear
from tests.processes import wait_for
from tests.proxy.conftest import make_tenant

ASK = [{"role": "user", "content": "Tell me a long story."}]
STREAMS = 40
GRACEFUL_S = 2.0


async def open_streams(url: str, secret: str, count: int, stop) -> tuple[list[str], float]:
    """Opens `count` streams of the slow model, calls `stop()` once each has delivered its
    first event, and reads them until the gateway ends them. Returns their request ids
    and how long `stop()` took."""
    ids: list[str] = []
    started = asyncio.Event()
    limits = httpx.Limits(max_connections=count)
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as c:

        async def one() -> None:
            body = {"model": "slow", "messages": ASK, "stream": True}
            async with c.stream("POST", "/v1/chat/completions", json=body) as r:
                assert r.status_code == 200
                ids.append(r.headers["x-request-id"])
                async for chunk in r.aiter_raw():
                    if b"data: " in chunk and len(ids) == count:
                        started.set()

        tasks = [asyncio.create_task(one()) for _ in range(count)]
        await asyncio.wait_for(started.wait(), 30)
        began = time.monotonic()
        await asyncio.to_thread(stop)
        took = time.monotonic() - began
        await asyncio.gather(*tasks, return_exceptions=True)  # cut short: errors expected
    return ids, took


def assert_each_recorded(ids: list[str]) -> None:
    assert len(ids) == STREAMS
    rows = {r.request_id: r for r in UsageRecord.objects.filter(request_id__in=ids)}
    assert len(rows) == STREAMS, f"{STREAMS - len(rows)} of {STREAMS} open streams left no record"
    for row in rows.values():
        assert row.status in ("client_abort", "ok"), row.status
        assert row.streamed and row.output_tokens > 0 and row.cost_pico > 0


@pytest.mark.parametrize("redis", [False, True], ids=["embedded", "redis"])
def test_sigterm_with_open_streams_leaves_a_record_for_each(
    transactional_db, tmp_path, routes, redis
):
    if redis:
        needs_shared_services()
        usage_stream_clear()
    tenant = make_tenant("shutdown")
    env = {} if redis else {"REDIS_URL": ""}
    with Gateways(1, tmp_path, env=env, graceful_s=GRACEFUL_S) as gw:
        (gateway,) = gw.procs
        codes: list[int] = []
        ids, took = asyncio.run(
            open_streams(
                gateway.url, tenant.secret, STREAMS, lambda: codes.append(gateway.terminate())
            )
        )
    # uvicorn re-raises the signal once it has shut down, so the exit is SIGTERM's.
    assert codes == [-signal.SIGTERM], gateway.log()[-2000:]
    assert "Application shutdown complete" in gateway.log()
    assert took < GRACEFUL_S + 10, took
    assert_each_recorded(ids)
    assert "Ended 40 open /v1 calls" in gateway.log()


def test_make_run_ctrl_c_with_open_streams_leaves_a_record_for_each(tmp_path):
    port, sandbox_port = free_port(), free_port()
    db = tmp_path / "db.sqlite3"
    routes = tmp_path / "routes.yaml"
    routes.write_text(
        "providers:\n"
        f"  - {{name: slow-sandbox, kind: openai, base_url: 'http://127.0.0.1:{sandbox_port}/v1',"
        " api_key: sandbox}\n"
        "models:\n"
        "  - name: slow\n"
        "    price: {input: 1.5, output: 2.25}\n"
        "    deployments: [{provider: slow-sandbox, model: 'demo@chunks=200,delay_ms=50'}]\n"
    )
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "PORT": str(port),
           "SANDBOX_PORT": str(sandbox_port), "CELERY_FS_BROKER_DIR": str(tmp_path / "broker"),
           "ROUTES_FILE": str(routes), "GRACEFUL_TIMEOUT_S": str(GRACEFUL_S)}  # fmt: skip
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "WEB_CONCURRENCY"):
        env.pop(name, None)
    py = sys.executable
    subprocess.run([py, "manage.py", "migrate", "-v", "0"], env=env, check=True, timeout=120)
    seed = subprocess.run(
        [py, "manage.py", "seeddemo"], env=env, check=True, capture_output=True, text=True
    )
    key = seed.stdout.split("demo key      ")[1].split()[0]
    log = open(tmp_path / "run.log", "w")  # noqa: SIM115 - handed to the child
    runner = subprocess.Popen(
        [py, "-m", "platform_site.run"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(url + "/v1/models", timeout=1).status_code == 401
            except httpx.TransportError:
                return False

        assert wait_for(up, timeout_s=60), (tmp_path / "run.log").read_text()[-3000:]
        codes: list[int] = []

        def ctrl_c() -> None:
            runner.send_signal(signal.SIGINT)
            codes.append(runner.wait(timeout=60))

        ids, _ = asyncio.run(open_streams(url, key, STREAMS, ctrl_c))
    finally:
        if runner.poll() is None:
            runner.kill()
    assert codes == [0], (tmp_path / "run.log").read_text()[-3000:]
    with sqlite3.connect(db) as conn:
        marks = ", ".join("?" * len(ids))
        rows = conn.execute(
            f"SELECT status FROM billing_usagerecord WHERE request_id IN ({marks})", ids
        ).fetchall()
    assert len(ids) == STREAMS and len(rows) == STREAMS, f"{len(rows)} of {len(ids)} recorded"
    assert {status for (status,) in rows} <= {"client_abort", "ok"}


def test_make_run_refuses_several_web_processes_without_redis():
    env = {**os.environ, "WEB_CONCURRENCY": "2"}
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "platform_site.run"], env=env, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert done.returncode == 2
    assert "WEB_CONCURRENCY=2 needs REDIS_URL" in done.stderr and "Set REDIS_URL" in done.stderr
