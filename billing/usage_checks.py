"""Usage values made sane at the source, so that no figure an upstream reports can make
the database refuse a record or price a call below zero.

Upstreams are not trusted: a buggy or hostile one can report a negative count, more
tokens than a column holds (> 2³¹ − 1), more cached tokens than input, or put a NUL in its
error text (Postgres refuses NULs in text). Each of those once stopped the usage writer.
Here every count is clamped to [0, 2³¹ − 1], cached and cache-write tokens to what the
input holds, every string made NUL-free and cut to its column, latencies made finite and
non-negative, and the cost kept within [0, MAX_COST_PICO]. A figure that had to be capped sets
`flagged`, and so does a count at the cap itself: nothing real reaches 2³¹ − 1 tokens, and
a count capped earlier (when pricing the call) stays recognisable on its record.

Pure functions over plain values and UsageEvent: no database, no settings.
"""

import dataclasses
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from billing.usage import UsageEvent

MAX_TOKENS = 2**31 - 1  # PositiveIntegerField on Postgres
MAX_SMALL = 2**15 - 1  # PositiveSmallIntegerField: http_status, attempts
MAX_ID = 2**63 - 1
# $10,000 for one request: above any real call, and far enough below the 2⁶³ − 1 of the
# BigIntegerFields (the balance, the key's and the period's spend) that a run of capped
# absurd figures cannot overflow the sums they are added to.
MAX_COST_PICO = 10**16
# The CharField lengths of billing.models.UsageRecord (tests/billing/test_usage_values.py
# checks they match the model).
LENGTHS = {
    "request_id": 64,
    "endpoint": 40,
    "model": 200,
    "provider": 100,
    "upstream_model": 200,
    "status": 20,
    "error": 300,
    "code": 40,
}
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens")


def _int(value: object) -> int | None:
    """An integer reading of a count, or None when it has none (NaN, a string, None)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return int(value)
    return None


def count_sane(value: object, high: int = MAX_TOKENS) -> tuple[int, bool]:
    """A count within [0, high], and whether it had to be changed (or sits at the cap)."""
    n = _int(value)
    if n is None:
        return 0, True
    if n < 0:
        return 0, True
    if n >= high:
        return high, True
    return n, n != value or type(value) is not int


def counts_sane(
    input_tokens: object, output_tokens: object, cached_tokens: object, cache_write_tokens: object
) -> tuple[tuple[int, int, int, int], bool]:
    """Token counts as a record can hold them: each within [0, 2³¹ − 1], cache reads at
    most the input, cache writes at most the input the reads leave; and whether any had
    to be capped."""
    i, fi = count_sane(input_tokens)
    o, fo = count_sane(output_tokens)
    c, fc = count_sane(cached_tokens)
    w, fw = count_sane(cache_write_tokens)
    flagged = fi or fo or fc or fw
    if c > i:
        c, flagged = i, True
    if w > i - c:
        w, flagged = i - c, True
    return (i, o, c, w), flagged


def cost_sane(pico: object) -> int:
    """A cost never below zero and at most MAX_COST_PICO."""
    n = _int(pico)
    if n is None or n < 0:
        return 0
    return min(n, MAX_COST_PICO)


def text_sane(value: object, length: int) -> str:
    """A string Postgres takes: no NUL, no lone surrogate, at most `length` characters."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:length]


def duration_sane(value: object, *, optional: bool = False) -> float | None:
    """Milliseconds: finite and non-negative (NaN would not survive JSON, nor -1 a chart)."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None if optional else 0.0
    try:
        ms = float(value)
    except OverflowError:  # an int beyond any float
        ms = math.inf
    if not math.isfinite(ms) or ms < 0:
        return None if optional else 0.0
    return ms


def _id(value: object, low: int = 1, high: int = MAX_ID) -> int | None:
    """An id within its column's range, else None: no made-up id points anywhere."""
    n = _int(value)
    return n if n is not None and low <= n <= high else None


def _differs(current: object, value: object) -> bool:
    return type(current) is not type(value) or current != value


def _plain(event: "UsageEvent") -> bool:
    """The common case, checked quickly (this runs once per request on the hot path):
    every value already as a record holds it, so the event needs no copy."""
    i, o = event.input_tokens, event.output_tokens
    c, w = event.cached_tokens, event.cache_write_tokens
    if not (
        type(i) is int
        and type(o) is int
        and type(c) is int
        and type(w) is int
        and 0 <= c <= i < MAX_TOKENS
        and 0 <= w <= i - c
        and 0 <= o < MAX_TOKENS
        and type(event.cost_pico) is int
        and 0 <= event.cost_pico <= MAX_COST_PICO
        and type(event.byok) is bool
        and type(event.fee_pico) is int
        and 0 <= event.fee_pico <= event.cost_pico
        and type(event.latency_ms) is float
        and 0.0 <= event.latency_ms < math.inf
        and (
            event.ttft_ms is None
            or (type(event.ttft_ms) is float and 0.0 <= event.ttft_ms < math.inf)
        )
        and type(event.http_status) is int
        and 0 <= event.http_status <= MAX_SMALL
        and type(event.attempts) is int
        and 0 <= event.attempts <= MAX_SMALL
        and (
            event.api_key_id is None
            or (type(event.api_key_id) is int and 0 < event.api_key_id <= MAX_ID)
        )
        and (
            event.deployment_id is None
            or (type(event.deployment_id) is int and 0 <= event.deployment_id <= MAX_TOKENS)
        )
        and type(event.streamed) is bool
        and type(event.tokens_estimated) is bool
        and type(event.flagged) is bool
    ):
        return False
    for name, length in LENGTHS.items():
        text = getattr(event, name)
        if type(text) is not str or len(text) > length or not text.isascii() or "\x00" in text:
            return False
    return True


def usage_sane(event: "UsageEvent") -> "UsageEvent":
    """The event with every value as a UsageRecord can hold it; the same object when
    nothing needed changing. Capped token figures set `flagged`. The organization is
    left as it is: no value can stand in for it, so a bad one is the database's to refuse
    (and the writer's to quarantine)."""
    if _plain(event):
        return event
    (i, o, c, w), flagged = counts_sane(
        event.input_tokens, event.output_tokens, event.cached_tokens, event.cache_write_tokens
    )
    fixed_cost = cost_sane(event.cost_pico)
    fixed: dict[str, object] = dict(zip(TOKEN_FIELDS, (i, o, c, w), strict=True))
    for name, length in LENGTHS.items():
        fixed[name] = text_sane(getattr(event, name), length)
    fixed |= {
        "http_status": count_sane(event.http_status, MAX_SMALL)[0],
        "attempts": count_sane(event.attempts, MAX_SMALL)[0],
        "deployment_id": _id(event.deployment_id, 0, MAX_TOKENS),
        "api_key_id": _id(event.api_key_id),
        "cost_pico": fixed_cost,
        "byok": bool(event.byok),
        # A fee is within its cost (the record's CHECK): never above the capped cost.
        "fee_pico": min(cost_sane(event.fee_pico), fixed_cost) if event.byok else 0,
        "latency_ms": duration_sane(event.latency_ms),
        "ttft_ms": duration_sane(event.ttft_ms, optional=True),
        "streamed": bool(event.streamed),
        "tokens_estimated": bool(event.tokens_estimated),
        "flagged": bool(event.flagged) or flagged or fixed_cost != event.cost_pico,
    }
    changes = {n: v for n, v in fixed.items() if _differs(getattr(event, n), v)}
    return dataclasses.replace(event, **changes) if changes else event
