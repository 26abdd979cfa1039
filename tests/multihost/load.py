"""Concurrent clients through the load balancer, each request's outcome kept: when it was
sent and answered, its status, which host served it (HAProxy's x-jinf-host), its
x-request-id, and whether its body arrived whole. Every other request streams, so a host
that dies mid-answer cuts some streams, as it would in production.

    outcomes = run(url, secret, clients=20, seconds=15)
    [o for o in outcomes if o.completed]      # each must have exactly one usage record
"""

import asyncio
import threading
import time
from dataclasses import dataclass

import httpx
import orjson

ASK = [{"role": "user", "content": "Say hi"}]
BODY = {"model": "demo", "messages": ASK, "max_tokens": 8}
STREAM = {**BODY, "stream": True, "stream_options": {"include_usage": True}}


@dataclass
class Outcome:
    sent: float  # time.monotonic()
    done: float
    stream: bool
    status: int  # -1: no answer at all
    host: str = ""
    request_id: str = ""
    whole: bool = False  # the body parsed, with its usage (a stream: to [DONE])
    error: str = ""

    @property
    def completed(self) -> bool:
        return self.status == 200 and self.whole


def _whole(body: bytes, stream: bool) -> bool:
    if stream:
        return b'"usage"' in body and body.rstrip().endswith(b"data: [DONE]")
    try:
        return "usage" in orjson.loads(body)
    except orjson.JSONDecodeError:
        return False


async def _one(client: httpx.AsyncClient, url: str, secret: str, stream: bool) -> Outcome:
    out = Outcome(sent=time.monotonic(), done=0.0, stream=stream, status=-1)
    headers = {"Authorization": f"Bearer {secret}"}
    try:
        async with client.stream(
            "POST", url + "/v1/chat/completions", json=STREAM if stream else BODY, headers=headers
        ) as response:
            out.status = response.status_code
            out.host = response.headers.get("x-jinf-host", "")
            out.request_id = response.headers.get("x-request-id", "")
            body = await response.aread()
            out.whole = _whole(body, stream)
    except httpx.HTTPError as exc:
        out.error = type(exc).__name__
    out.done = time.monotonic()
    return out


async def _run(url: str, secret: str, clients: int, seconds: float, stop: threading.Event):
    outcomes: list[Outcome] = []
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:

        async def worker(n: int) -> None:
            while time.monotonic() < deadline and not stop.is_set():
                n += 1
                outcomes.append(await _one(client, url, secret, stream=n % 2 == 0))

        await asyncio.gather(*(worker(n) for n in range(clients)))
    return outcomes


def run(
    url: str,
    secret: str,
    *,
    clients: int,
    seconds: float,
    stop: threading.Event | None = None,
) -> list[Outcome]:
    return asyncio.run(_run(url, secret, clients, seconds, stop or threading.Event()))


class Background(threading.Thread):
    """`run()` in a thread, so that the test can kill a host while the load goes on."""

    def __init__(self, url: str, secret: str, *, clients: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.args = (url, secret)
        self.kwargs = {"clients": clients, "seconds": seconds}
        self.stop = threading.Event()
        self.outcomes: list[Outcome] = []
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self.outcomes = run(*self.args, stop=self.stop, **self.kwargs)
        except BaseException as exc:  # re-raised by result()
            self.failure = exc

    def result(self, timeout_s: float) -> list[Outcome]:
        self.join(timeout_s)
        if self.is_alive():
            self.stop.set()
            self.join(35)
        if self.failure is not None:
            raise self.failure
        return self.outcomes
