"""What one /v1 call carries through the relay: the request, the client it answers,
the upstream response being read, and what its usage record will say."""

import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

import httpx

from accounts.money import PICO_PER_USD
from billing.holds import Hold
from billing.models import UsageStatus
from billing.usage_checks import cost_sane, counts_sane
from proxy.auth import KeyInfo
from proxy.body_log import BodyLog
from proxy.limits import Ticket
from proxy.table import DeploymentEntry, ModelEntry
from proxy.translate.canonical import ChatRequest, Cost, Usage
from proxy.translate.shapes import SHAPES


class ClientOut(Protocol):
    async def open(self, status: int, headers: list[tuple[bytes, bytes]]) -> None: ...
    async def write(self, data: bytes, *, more: bool) -> None: ...


@dataclass
class Call:
    request_id: str
    endpoint: str  # chat | completions | embeddings | messages | count_tokens | responses
    key: KeyInfo
    model: ModelEntry
    body: dict
    client_headers: dict[bytes, bytes] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    # POSIX time of the call's start: the call is priced by the prices in force then.
    started_at: float = field(default_factory=time.time)
    # The canonical form, parsed on the first deployment that needs a translation: a
    # native call never reads more of the body than model and stream.
    canonical: ChatRequest | None = None
    # The money held for this call before it was relayed (billing.holds), settled when
    # its usage is recorded (proxy.recording); None when nothing is held.
    hold: Hold | None = None
    # The rate limiter's admission (proxy.limits), whose tokens settle with the usage.
    ticket: "Ticket | None" = None
    # The request and answer bytes, when the organization logs bodies (proxy.body_log).
    bodies: BodyLog | None = None
    _parsed_dropped: list[str] = field(default_factory=list, repr=False)

    def canonical_request(self) -> ChatRequest:
        """The body in canonical form, ready for one provider's build: what the shape's
        parser set aside stays named, what an earlier build dropped is forgotten. The
        shape's 400 naming the field if the body has no canonical form."""
        if self.canonical is None:
            self.canonical = SHAPES[self.endpoint].parse(self.body)
            self._parsed_dropped = list(self.canonical.dropped)
        self.canonical.drop_unsupported = self.model.drop_unsupported
        self.canonical.dropped = list(self._parsed_dropped)
        return self.canonical

    @property
    def stream(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def include_usage(self) -> bool:
        if self.endpoint in ("messages", "responses"):
            return True
        options = self.body.get("stream_options")
        return isinstance(options, dict) and options.get("include_usage") is True

    def price(self, usage: Usage) -> Cost:
        """What the client is shown and charged: from the counts made sane first, so that
        no figure an upstream reports prices a call below zero (billing.usage_checks)."""
        (i, o, c, w), _ = counts_sane(usage.input, usage.output, usage.cached, usage.cache_write)
        pico = cost_sane(self.model.price_at(self.started_at).cost(i, o, c, w))
        return Cost(pico, float(Decimal(pico) / PICO_PER_USD))


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
    code: str = ""
    recorded: bool = False  # the usage event is out (proxy.recording)
    upstream_s: float = 0.0  # time spent waiting on upstreams, all attempts
    native: bool = True  # the answering deployment is served natively

    def headers(self, call: Call) -> list[tuple[bytes, bytes]]:
        """`x-jinf-overhead-ms`: the gateway's own time so far, upstream waits excluded;
        `x-jinf-dropped`: what a translation left out, when it left anything."""
        own = time.perf_counter() - call.started - self.upstream_s
        out = [(b"x-jinf-overhead-ms", b"%.3f" % (max(own, 0.0) * 1000))]
        if call.canonical is not None and call.canonical.dropped and not self.native:
            out.append((b"x-jinf-dropped", ", ".join(call.canonical.dropped).encode()))
        return out

    def charge(self, call: Call, usage: Usage | None, *, estimated: bool = False) -> None:
        """Keeps the usage as a record can hold it (a capped count stays at the cap, which
        the record flags) and its cost, never below zero."""
        if usage is not None:
            counts, _ = counts_sane(usage.input, usage.output, usage.cached, usage.cache_write)
            usage = Usage(*counts)
        self.usage, self.estimated = usage, estimated
        self.cost_pico = call.price(usage).pico if usage is not None else 0

    def answered(self, call: Call, data: bytes) -> None:
        """Bytes the client is sent, kept when the call logs bodies."""
        if call.bodies is not None:
            call.bodies.add(data)

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
