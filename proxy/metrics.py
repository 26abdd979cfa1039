"""The gateway's Prometheus metrics, observed where every /v1 usage event passes
(proxy.recording) and where usage is queued and written (proxy.usage_sink).

Served at /metrics (platform_site.ops). With PROMETHEUS_MULTIPROC_DIR set before the
process starts, prometheus_client keeps each process's values in files there and /metrics
sums every web process's (platform_site.ops_metrics).

Label values are bounded: a model is a name of the routes table, except that a refusal
names whatever the client sent, so a name the table does not know is "_unknown" and, past
MAX_MODEL_LABELS distinct names in a process, "_other". The labelled children are kept
in a dict, so that one request costs a dict lookup and three observations.
"""

from prometheus_client import Counter, Histogram

UNKNOWN_MODEL = "_unknown"
OTHER_MODEL = "_other"
MAX_MODEL_LABELS = 1000

# Seconds: a refusal in a millisecond to a long generation.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)

REQUESTS = Counter(
    "jinf_requests",
    "/v1 requests that passed authentication, by model and usage status (one per usage record).",
    ["model", "status"],
)
LATENCY = Histogram(
    "jinf_request_duration_seconds",
    "Time from a /v1 request's arrival to its usage record, by model and status.",
    ["model", "status"],
    buckets=LATENCY_BUCKETS,
)
TTFT = Histogram(
    "jinf_time_to_first_token_seconds",
    "Time to the first token of answers that had one, by model and status.",
    ["model", "status"],
    buckets=TTFT_BUCKETS,
)
UPSTREAM_ERRORS = Counter(
    "jinf_upstream_errors",
    "Upstream attempts that failed (connect error, timeout, 429, 5xx, a broken answer).",
    ["model"],
)
FALLBACKS = Counter(
    "jinf_upstream_fallbacks",
    "Times a request moved on to another deployment after one failed.",
    ["model"],
)
USAGE_QUEUED = Counter(
    "jinf_usage_records_queued",
    "Usage events handed to the writer: via the Redis stream or this process's journal.",
    ["via"],
)
USAGE_WRITTEN = Counter("jinf_usage_records_written", "Usage records written to the database.")
USAGE_QUARANTINED = Counter(
    "jinf_usage_records_quarantined", "Usage events the database refused, set aside."
)

_children: dict[tuple[str, str], tuple] = {}
_upstream: dict[str, tuple] = {}  # model → (fallbacks, upstream errors)
_models: set[str] = set()
_queued = {"stream": USAGE_QUEUED.labels("stream"), "journal": USAGE_QUEUED.labels("journal")}


def model_label(model: str, *, known: bool = True) -> str:
    if not known:
        return UNKNOWN_MODEL
    if model in _models:
        return model
    if len(_models) >= MAX_MODEL_LABELS:
        return OTHER_MODEL
    _models.add(model)
    return model


def _labelled(model: str, status: str) -> tuple:
    key = (model, status)
    children = _children.get(key)
    if children is None:
        children = _children[key] = (
            REQUESTS.labels(model, status),
            LATENCY.labels(model, status),
            TTFT.labels(model, status),
        )
    return children


def observe_request(
    model: str,
    status: str,
    latency_s: float,
    ttft_s: float | None = None,
    *,
    attempts: int = 0,
    upstream_failed: bool = False,
    known: bool = True,
) -> None:
    """One usage event: the request, its latency, its first token when it had one;
    `attempts` deployments were tried, all but the last failed, and the last too when
    `upstream_failed`."""
    label = model_label(model, known=known)
    requests, latency, ttft = _labelled(label, status)
    requests.inc()
    latency.observe(latency_s)
    if ttft_s is not None:
        ttft.observe(ttft_s)
    failed = max(attempts - 1, 0) + (1 if upstream_failed and attempts else 0)
    if failed:
        upstream = _upstream.get(label)
        if upstream is None:
            upstream = _upstream[label] = (FALLBACKS.labels(label), UPSTREAM_ERRORS.labels(label))
        if attempts > 1:
            upstream[0].inc(attempts - 1)
        upstream[1].inc(failed)


def usage_queued(via: str) -> None:
    _queued[via].inc()


def usage_written(records: int, quarantined: int = 0) -> None:
    if records:
        USAGE_WRITTEN.inc(records)
    if quarantined:
        USAGE_QUARANTINED.inc(quarantined)


def forget() -> None:
    """Forgets which model labels this process has seen (tests); the values stay, as
    Prometheus counters must."""
    _models.clear()
