"""Which deployment to try first: priority, then weight; failing ones cool down.

Per process, in memory: a deployment that fails PROXY_COOLDOWN_FAILURES times in a row
(or answers 429) is skipped for PROXY_COOLDOWN_S, then tried again. If every deployment
is cooling down they are tried anyway, since an answer late beats no answer.

Each deployment's recent error ratio and time to first byte are kept as moving averages
(weight EWMA_WEIGHT for the newest attempt): what the automatic model (proxy.auto) reads.
"""

import random
import time
from dataclasses import dataclass

from django.conf import settings

from proxy.table import DeploymentEntry

EWMA_WEIGHT = 0.2


@dataclass
class _Health:
    failures: int = 0
    cooled_until: float = 0.0
    error_rate: float = 0.0  # of recent attempts, moving average of 1 (failed) and 0
    ttfb_ms: float | None = None  # recent time to the first byte of successful attempts


@dataclass(frozen=True, slots=True)
class Live:
    """What this process measured of a deployment lately."""

    cooling: bool
    error_rate: float
    ttfb_ms: float | None


HEALTHY = Live(False, 0.0, None)


_health: dict[int, _Health] = {}
_rng = random.Random()


def order(
    deployments: tuple[DeploymentEntry, ...], rng: random.Random | None = None
) -> list[DeploymentEntry]:
    rng = rng or _rng
    now = time.monotonic()
    ready, cooling = [], []
    for priority in sorted({d.priority for d in deployments}):
        group = [d for d in deployments if d.priority == priority]
        for d in _weighted_shuffle(group, rng):
            h = _health.get(d.id)
            (cooling if h is not None and h.cooled_until > now else ready).append(d)
    return ready + cooling


def _weighted_shuffle(group: list[DeploymentEntry], rng: random.Random) -> list[DeploymentEntry]:
    if len(group) == 1:
        return group
    # Efraimidis–Spirakis: sort by u^(1/w), a weighted random order in one pass.
    return sorted(group, key=lambda d: rng.random() ** (1.0 / d.weight), reverse=True)


def record_success(deployment_id: int, ttfb_s: float | None = None) -> None:
    h = _health.get(deployment_id)
    if h is None:
        h = _health[deployment_id] = _Health()
    h.failures = 0
    h.cooled_until = 0.0
    h.error_rate *= 1 - EWMA_WEIGHT
    if ttfb_s is not None:
        ms = ttfb_s * 1000
        h.ttfb_ms = ms if h.ttfb_ms is None else h.ttfb_ms + EWMA_WEIGHT * (ms - h.ttfb_ms)


def record_failure(deployment_id: int, *, rate_limited: bool = False) -> None:
    h = _health.setdefault(deployment_id, _Health())
    h.failures += 1
    h.error_rate += EWMA_WEIGHT * (1 - h.error_rate)
    if rate_limited or h.failures >= settings.PROXY_COOLDOWN_FAILURES:
        h.cooled_until = time.monotonic() + settings.PROXY_COOLDOWN_S


def cooling_until(deployment_id: int) -> float | None:
    """When this process tries the deployment again, as POSIX time; None if it is healthy
    here (the state is per process: another worker may see it differently)."""
    h = _health.get(deployment_id)
    left = (h.cooled_until - time.monotonic()) if h is not None else 0.0
    return time.time() + left if left > 0 else None


def live(deployment_id: int, now: float | None = None) -> Live:
    """The deployment's health as this process sees it (`now`: time.monotonic())."""
    h = _health.get(deployment_id)
    if h is None:
        return HEALTHY
    now = time.monotonic() if now is None else now
    return Live(h.cooled_until > now, h.error_rate, h.ttfb_ms)


def reset() -> None:
    _health.clear()
