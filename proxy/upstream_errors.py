"""What the client is told when an upstream fails: one error per way of failing, with
the contract's statuses (502 unreachable or broken, 503 busy, 504 timed out)."""

from proxy.translate.canonical import UpstreamFailed
from proxy.translate.errors import ProxyError


def timeout() -> ProxyError:
    return ProxyError(
        504, "The upstream provider timed out.", type="api_error", code="upstream_timeout"
    )


def unreachable(exc: Exception) -> ProxyError:
    return ProxyError(
        502,
        f"Could not reach the upstream provider ({type(exc).__name__}).",
        type="api_error",
        code="upstream_unreachable",
    )


def dropped() -> ProxyError:
    return ProxyError(
        502,
        "The upstream provider closed the connection.",
        type="api_error",
        code="upstream_dropped",
    )


def status_error(status: int) -> ProxyError:
    if status in (429, 503, 529):
        return ProxyError(
            503,
            "Every upstream provider for this model is busy or unavailable; retry shortly.",
            type="api_error",
            code="upstream_unavailable",
        )
    return ProxyError(
        502,
        f"The upstream provider failed (HTTP {status}).",
        type="api_error",
        code="upstream_error",
    )


def upstream_failed(exc: UpstreamFailed, *, during: str) -> ProxyError:
    status = exc.status if exc.status in (400, 429, 504, 529) else 502
    return ProxyError(
        status,
        f"The upstream provider failed {during}: {exc or type(exc).__name__}"[:300],
        type="invalid_request_error" if status == 400 else "api_error",
        code="upstream_error" if during == "answering" else "upstream_stream_error",
    )
