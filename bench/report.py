"""Medians over rounds, added latency against the direct call of the same round, the table
(Markdown, so it pastes into the README) and the checks of issue 5's "Done when"."""

from __future__ import annotations

import statistics
from collections.abc import Iterable

Runs = dict[str, dict[str, list[dict]]]  # scenario → target → one dict per round


def _median(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _added(runs: list[dict], direct: list[dict], key: str) -> float | None:
    """Median over rounds of (target − direct) for the same round."""
    return _median(
        r[key] - d[key]
        for r, d in zip(runs, direct, strict=False)
        if r.get(key) is not None and d.get(key) is not None
    )


def summarize(runs: Runs) -> list[dict]:
    rows = []
    for scenario, by_target in runs.items():
        direct = by_target.get("direct", [])
        for target, results in by_target.items():
            row = {"scenario": scenario, "target": target, "rounds": len(results)}
            for key in (
                "p50",
                "p95",
                "p99",
                "ttfb_p50",
                "ttfb_p99",
                "rps",
                "overhead_p50",
                "rss_per_stream",
            ):
                row[key] = _median(r.get(key) for r in results)
            for key in ("p50", "p99", "ttfb_p50"):
                row[f"added_{key}"] = _added(results, direct, key) if target != "direct" else None
            row["errors"] = sum(r["errors"] for r in results)
            row["requests"] = sum(r["requests"] for r in results)
            row["rss_peak_mb"] = max(r["rss_peak"] for r in results) / 2**20
            row["notes"] = "; ".join(sorted({r["note"] for r in results if r.get("note")}))
            rows.append(row)
    return rows


def _f(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


COLUMNS = ["scenario", "target", "p50 ms", "p95 ms", "p99 ms", "+p50 ms", "+p99 ms", "TTFB p50",
           "+TTFB p50", "req/s", "errors", "peak RSS MB", "overhead hdr p50", "notes"]  # fmt: skip


def table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in rows:
        notes = r["notes"]
        if r.get("rss_per_stream") is not None:
            notes = f"{r['rss_per_stream'] / 1024:.0f} KiB/stream" + (f"; {notes}" if notes else "")
        cells = [r["scenario"], r["target"], _f(r["p50"]), _f(r["p95"]), _f(r["p99"]),
                 _f(r["added_p50"]), _f(r["added_p99"]), _f(r["ttfb_p50"]), _f(r["added_ttfb_p50"]),
                 _f(r["rps"], 0), str(r["errors"]), _f(r["rss_peak_mb"], 0), _f(r["overhead_p50"], 3), notes]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _row(rows: list[dict], scenario: str, target: str) -> dict | None:
    return next((r for r in rows if r["scenario"] == scenario and r["target"] == target), None)


def _check(label: str, value: float | None, limit: float, le: bool = True) -> str:
    if value is None:
        return f"  n/a   {label}"
    ok = value <= limit if le else value >= limit
    return f"  {'PASS' if ok else 'MISS'}  {label}: {value:.2f} (target {'≤' if le else '≥'} {limit:g})"


def checks(rows: list[dict], gateway: str = "gateway") -> list[str]:
    """Issue 5's targets, for `gateway`, in the order the issue lists them."""
    out = []
    c1 = _row(rows, "chat-c1", gateway)
    if c1:
        out += [
            _check("chat-c1 added p50 ms", c1["added_p50"], 1),
            _check("chat-c1 added p99 ms", c1["added_p99"], 3),
        ]
    s1 = _row(rows, "stream-c1", gateway)
    if s1:
        out.append(_check("stream-c1 added TTFB p50 ms", s1["added_ttfb_p50"], 2))
    op = _row(rows, "open-300", gateway)
    if op:
        out += [_check("open-300 added p50 ms", op["added_p50"], 2), _check("open-300 added p99 ms", op["added_p99"], 8),
                _check("open-300 errors", op["errors"], 0)]  # fmt: skip
    for scenario in ("chat-c64", "stream-c64"):
        ours, theirs = _row(rows, scenario, gateway), _row(rows, scenario, "litellm")
        if ours and theirs and theirs["rps"]:
            out.append(
                _check(
                    f"{scenario} req/s vs LiteLLM (×)", ours["rps"] / theirs["rps"], 10, le=False
                )
            )
        if ours:
            out.append(_check(f"{scenario} errors", ours["errors"], 0))
    for variant in ("gateway-bigdb", "gateway-pg"):
        for scenario, key, le in (("chat-c1", "p50", True), ("chat-c64", "rps", False)):
            base, big = _row(rows, scenario, gateway), _row(rows, scenario, variant)
            if base and big and base[key] and big[key] is not None:
                ratio = big[key] / base[key]
                label = f"{variant} {scenario} {key} / {gateway}'s"
                out.append(
                    _check(label, ratio, 1.10 if le else 0.90, le=le)
                    + ("" if variant == "gateway-bigdb" else " (info)")
                )
    return out
