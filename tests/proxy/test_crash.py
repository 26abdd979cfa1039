"""Usage that survives a crash: a request whose answer was completely received has a usage
record, even when the process that served it is SIGKILLed right after (the Redis stream
with acknowledgement, or the embedded mode's journal)."""

import asyncio
import itertools
import logging
import subprocess
import sys
from types import SimpleNamespace

import aiohttp
import httpx
import orjson
import pytest

from accounts.money import PICO_PER_USD
from billing.models import UsageRecord
from tests.multiproc import Gateways, free_port, needs_shared_services, usage_stream_clear
from tests.processes import wait_for
from tests.proxy.conftest import load_routes, make_tenant

ASK = [{"role": "user", "content": "Count the tokens of this sentence, please."}]


async def _load(gw: Gateways, secret: str, *, total: int, kill_after: int, connections: int):
    """`total` requests over `connections` connections spread across the processes; the
    first process is SIGKILLed once `kill_after` answers are complete. Returns the request
    ids of the complete answers (status 200, the whole body) and how many failed.
    aiohttp, not httpx: the load generator shares two cores with everything it measures."""
    headers = {"Authorization": f"Bearer {secret}"}
    per = max(1, connections // len(gw.urls))
    sessions = [
        aiohttp.ClientSession(
            base_url=url,
            headers=headers,
            connector=aiohttp.TCPConnector(limit=per),
            timeout=aiohttp.ClientTimeout(total=15),
        )
        for url in gw.urls
    ]
    alive = [True] * len(sessions)
    numbers = itertools.count()
    complete: list[str] = []
    failed = 0

    async def one(session: aiohttp.ClientSession, stream: bool) -> str | None:
        body = {"model": "demo", "messages": ASK, "stream": stream}
        async with session.post("/v1/chat/completions", json=body) as r:
            data = await r.read()
            if r.status != 200:
                return None
            if stream:
                if not data.endswith(b"data: [DONE]\n\n"):
                    return None
            elif not orjson.loads(data).get("choices"):
                return None
            return r.headers["x-request-id"]

    async def worker(w: int) -> None:
        nonlocal failed
        while next(numbers) < total:
            target = w % len(sessions)
            if not alive[target]:  # the first process is dead: the others take its share
                if not any(alive):
                    return
                target = alive.index(True)
            try:
                rid = await one(sessions[target], stream=w % 8 == 0)
            except (aiohttp.ClientError, TimeoutError):
                rid = None
            if rid is None:
                failed += 1
                continue
            complete.append(rid)
            if len(complete) == kill_after:
                alive[0] = False
                gw.procs[0].kill()

    try:
        await asyncio.wait_for(asyncio.gather(*(worker(w) for w in range(connections))), 180)
    finally:
        for session in sessions:
            await session.close()
    return complete, failed


@pytest.fixture
def sandbox_process(tmp_path):
    """The sandbox in a process of its own: in a thread of the test process it would
    share one core's worth of GIL with the load generator."""
    port = free_port()
    log = open(tmp_path / "sandbox.log", "w")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--log-level", "warning"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = SimpleNamespace(url=f"http://127.0.0.1:{port}")

    def up() -> bool:
        try:
            return httpx.get(server.url + "/v1/models", timeout=1).status_code == 401  # serving
        except httpx.TransportError:
            return False

    try:
        assert wait_for(up, timeout_s=30, interval_s=0.1), (tmp_path / "sandbox.log").read_text()
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _unrecorded(ids: list[str]) -> list[str]:
    found = set()
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        found |= set(
            UsageRecord.objects.filter(request_id__in=chunk).values_list("request_id", flat=True)
        )
    return [i for i in ids if i not in found]


@pytest.fixture(autouse=True)
def _quiet_clients(caplog):
    """One INFO line per request, 12,000 times, costs the load generator its pace."""
    caplog.set_level(logging.WARNING, logger="httpx")


@pytest.mark.timeout(240)  # ~45 s alone on two shared cores; more when the suite is busy
def test_sigkill_of_one_of_two_processes_leaves_no_completed_request_unrecorded(
    transactional_db, tmp_path, sandbox_process
):
    needs_shared_services()
    usage_stream_clear()
    load_routes(sandbox_process, {"demo": [{"model": "demo"}]})
    tenant = make_tenant("crash", usd_pico=10_000 * PICO_PER_USD)
    with Gateways(2, tmp_path) as gw:
        complete, failed = asyncio.run(
            _load(gw, tenant.secret, total=12_000, kill_after=6_000, connections=32)
        )
        assert gw.procs[0].proc.poll() is not None, "the first process was killed"
        # The survivor claims what the dead process had read and not written (idle > 5 s).
        assert wait_for(lambda: not _unrecorded(complete), timeout_s=25, interval_s=0.5), (
            f"{len(_unrecorded(complete))} of {len(complete)} complete answers have no record"
        )
    assert len(complete) + failed == 12_000 and len(complete) > 11_000, (len(complete), failed)


def test_sigkill_of_the_embedded_process_loses_nothing_once_it_starts_again(
    transactional_db, tmp_path, sandbox_process
):
    load_routes(sandbox_process, {"demo": [{"model": "demo"}]})
    tenant = make_tenant("crash-embedded", usd_pico=1_000 * PICO_PER_USD)
    (tmp_path / "first").mkdir()
    (tmp_path / "again").mkdir()
    embedded = {"REDIS_URL": ""}
    with Gateways(1, tmp_path / "first", env=embedded) as gw:
        complete, _ = asyncio.run(
            _load(gw, tenant.secret, total=3_000, kill_after=1_500, connections=16)
        )
    assert 1_500 <= len(complete) < 3_000  # the requests after the kill had nowhere to go
    if not _unrecorded(complete):
        pytest.fail("the kill came after every write: nothing was left to the journal")
    # The journal of the dead process is replayed by the next start.
    with Gateways(1, tmp_path / "again", env=embedded):
        assert wait_for(lambda: not _unrecorded(complete), timeout_s=20, interval_s=0.5), (
            f"{len(_unrecorded(complete))} of {len(complete)} complete answers have no record"
        )
    assert UsageRecord.objects.filter(request_id__in=complete[:2000]).count() == min(
        2000, len(complete)
    )
