"""What one /v1 call carries through the relay: the request, the client it answers,
the upstream response being read, and what its usage record will say."""

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

import httpx

from billing.models import UsageStatus
from billing.money import PICO_PER_USD
from billing.usage import cost_pico
from proxy.auth import KeyInfo
from proxy.canonical import ChatRequest, Usage
from proxy.table import DeploymentEntry, ModelEntry


class ClientOut(Protocol):
    async def open(self, status: int, headers: list[tuple[bytes, bytes]]) -> None: ...
    async def write(self, data: bytes, *, more: bool) -> None: ...


@dataclass
class Call:
    request_id: str
    endpoint: str  # chat | completions | embeddings | messages | responses
    key: KeyInfo
    model: ModelEntry
    body: dict
    # The canonical form, parsed by the consumer (messages, responses) or on the first
    # deployment that needs a translation (chat).
    canonical: ChatRequest | None = None
    client_headers: dict[bytes, bytes] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def include_usage(self) -> bool:
        if self.endpoint in ("messages", "responses"):
            return True
        return bool((self.body.get("stream_options") or {}).get("include_usage"))

    def price(self, usage: Usage) -> tuple[int, float]:
        pico = cost_pico(
            input_tokens=usage.input,
            output_tokens=usage.output,
            cached_tokens=usage.cached,
            input_price=self.model.input_price,
            output_price=self.model.output_price,
            cached_input_price=self.model.cached_input_price,
        )
        return pico, float(Decimal(pico) / PICO_PER_USD)


@dataclass
class Outcome:
    """What the usage record will say; filled in as the call goes."""

    status: str = UsageStatus.UPSTREAM_ERROR
    http_status: int = 502
    deployment: DeploymentEntry | None = None
    usage: Usage | None = None
    estimated: bool = False
    cost_pico: int = 0
    ttft_ms: float | None = None
    attempts: int = 0
    error: str = ""
    upstream_s: float = 0.0  # time spent waiting on upstreams, all attempts

    def overhead_header(self, call: Call) -> tuple[bytes, bytes]:
        """`x-jinf-overhead-ms`: the gateway's own time so far, upstream waits excluded."""
        own = time.perf_counter() - call.started - self.upstream_s
        return (b"x-jinf-overhead-ms", b"%.3f" % (max(own, 0.0) * 1000))

    def charge(self, call: Call, usage: Usage | None, *, estimated: bool = False) -> None:
        self.usage, self.estimated = usage, estimated
        self.cost_pico = call.price(usage)[0] if usage is not None else 0

    def first_byte(self, call: Call) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = (time.perf_counter() - call.started) * 1000


@dataclass
class Opened:
    """An upstream response whose first body chunk has arrived."""

    response: httpx.Response
    first: bytes
    chunks: object  # the response's raw-chunk iterator, already advanced past `first`
    native: bool

    async def body(self):
        yield self.first
        async for chunk in self.chunks:
            yield chunk

    async def read(self, outcome: "Outcome | None" = None) -> bytes:
        started = time.perf_counter()
        try:
            return b"".join([c async for c in self.body()])
        finally:
            await self.response.aclose()
            if outcome is not None:
                outcome.upstream_s += time.perf_counter() - started
