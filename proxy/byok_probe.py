"""The portal's one-click test of an organization's provider: list its models with its
key, and say what came back, never the key."""

import time
from dataclasses import dataclass

import httpx

from proxy.models import Provider
from proxy.translate.providers.anthropic.translate import messages_url

TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    message: str
    status: int | None = None
    ms: float | None = None


def probe(provider: Provider) -> ProbeResult:
    key = provider.api_key
    if provider.kind == "anthropic":
        url = messages_url(provider.base_url, "models")
        headers = {"anthropic-version": "2023-06-01", **({"x-api-key": key} if key else {})}
    else:
        url = provider.base_url.rstrip("/") + "/models"
        headers = {"authorization": f"Bearer {key}"} if key else {}
    began = time.perf_counter()
    try:
        with httpx.Client(timeout=TIMEOUT_S, follow_redirects=False) as client:
            response = client.get(url, headers=headers)
    except httpx.TimeoutException:
        return ProbeResult(False, f"No answer from {url} within {TIMEOUT_S:g} s.")
    except httpx.HTTPError as exc:
        return ProbeResult(False, f"Could not reach {url}: {type(exc).__name__}.")
    ms = (time.perf_counter() - began) * 1000
    status = response.status_code
    if status in (401, 403):
        return ProbeResult(False, f"{url} refused the key ({status}). Check the key.", status, ms)
    if not 200 <= status < 300:
        return ProbeResult(False, f"{url} answered {status}.", status, ms)
    try:
        count = len(response.json().get("data") or [])
    except (ValueError, AttributeError):
        return ProbeResult(True, f"{url} answered {status} in {ms:.0f} ms.", status, ms)
    return ProbeResult(True, f"Reached {url} in {ms:.0f} ms: it lists {count} models.", status, ms)
