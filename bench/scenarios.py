"""The workloads, each run the same way against every target."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace

from bench import loadgen
from bench.targets import RssSampler, Target

PROMPT = [{"role": "user", "content": "Say hello in one short sentence."}]


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # closed | stream | open | hold
    about: str
    concurrency: int = 1
    seconds: float = 5.0
    rate: float = 0.0
    streams: int = 0
    stream: bool = False
    model: str = "bench"


FULL = [
    Scenario("chat-c1", "closed", "non-streamed, one request at a time (wrk)", 1),
    Scenario(
        "chat-auto-c1", "closed", "chat-c1 through the automatic model (picks bench, not bench-small)",
        1, model="bench-auto",
    ),
    Scenario("chat-c16", "closed", "non-streamed, 16 connections (wrk)", 16),
    Scenario("chat-c64", "closed", "non-streamed, 64 connections (wrk)", 64),
    Scenario("chat-c256", "closed", "non-streamed, 256 connections (wrk)", 256),
    Scenario("stream-c1", "stream", "100-chunk stream, one at a time: TTFB and total", 1, stream=True),
    Scenario("stream-c64", "closed", "100-chunk streams, 64 connections: streams/s (wrk)", 64, stream=True),
    Scenario("open-300", "open", "non-streamed, open loop at 300 req/s", seconds=10.0, rate=300.0),
    Scenario(
        "hold-1000", "hold", "1,000 streams open at once (20 chunks, 0.5 s apart): memory per stream",
        streams=1000, stream=True, model="bench-hold",
    ),
]  # fmt: skip
QUICK_NAMES = ["chat-c1", "chat-c64", "stream-c1", "stream-c64", "open-300"]


def pick(names: list[str] | None, quick: bool) -> list[Scenario]:
    chosen = [
        s
        for s in FULL
        if (names and s.name in names) or (not names and (not quick or s.name in QUICK_NAMES))
    ]
    if names and len(chosen) != len(set(names)):
        known = ", ".join(s.name for s in FULL)
        raise SystemExit(f"Unknown scenario in {names}; the scenarios are: {known}.")
    if quick:
        chosen = [
            replace(s, seconds=2.0 if s.kind != "open" else 4.0, streams=min(s.streams, 300))
            for s in chosen
        ]
    return chosen


def body(target: Target, scenario: Scenario) -> bytes:
    payload: dict = {"model": target.models[scenario.model], "messages": PROMPT, "max_tokens": 64}
    if scenario.stream:
        payload["stream"] = True
        payload["stream_options"] = {"include_usage": True}
    return json.dumps(payload).encode()


def run(scenario: Scenario, target: Target, runner: asyncio.Runner) -> dict:
    """Runs one scenario against one target; a JSON-ready dict of what was measured."""
    data = body(target, scenario)
    baseline = target.rss()
    with RssSampler(target) as rss:
        if scenario.kind == "closed":
            result = loadgen.wrk_run(
                target.chat_url, data, target.auth, scenario.concurrency, scenario.seconds
            )
        elif scenario.kind == "stream":
            coro = loadgen.stream_run(
                target.chat_url, data, target.auth, scenario.concurrency, 100_000, scenario.seconds
            )
            result = runner.run(coro)
        elif scenario.kind == "open":
            coro = loadgen.open_loop_run(
                target.chat_url, data, target.auth, scenario.rate, scenario.seconds
            )
            result = runner.run(coro)
        else:

            async def while_open() -> dict:
                await asyncio.sleep(0.5)
                return {"rss_open": target.rss()}

            coro = loadgen.hold_streams(
                target.chat_url, data, target.auth, scenario.streams, while_open
            )
            result = runner.run(coro)
    out = {
        "requests": result.requests, "errors": result.errors, "seconds": result.seconds,
        "rps": result.rps, "p50": result.p50, "p95": result.p95, "p99": result.p99,
        "ttfb_p50": result.ttfb_p50, "ttfb_p99": result.ttfb_p99,
        "overhead_p50": result.overhead_p50, "note": result.note,
        "rss_baseline": baseline, "rss_peak": rss.peak, **result.extra,
    }  # fmt: skip
    if scenario.kind == "hold" and scenario.streams:
        grown = max(out.get("rss_open", rss.peak), rss.peak) - baseline
        out["rss_per_stream"] = grown / scenario.streams
    return out
