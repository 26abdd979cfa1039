"""The routes as one immutable in-process snapshot, reloaded every few seconds.

The hot path reads `current()` with no database work; a reload happens at most once per
PROXY_ROUTES_TTL_S per process, in one query, with the secrets decrypted once.
"""

import asyncio
import time
from dataclasses import dataclass

from channels.db import database_sync_to_async
from django.conf import settings

from proxy.models import Deployment


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    name: str
    kind: str
    base_url: str
    api_key: str
    timeout_s: float


@dataclass(frozen=True, slots=True)
class DeploymentEntry:
    id: int
    provider: ProviderEntry
    upstream_model: str
    priority: int
    weight: int


@dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str
    input_price: int
    output_price: int
    cached_input_price: int | None
    deployments: tuple[DeploymentEntry, ...]


@dataclass(frozen=True, slots=True)
class RouteTable:
    models: dict[str, ModelEntry]


def load() -> RouteTable:
    rows = Deployment.objects.filter(
        model_route__is_active=True, provider__is_active=True
    ).select_related("model_route", "provider")
    providers: dict[int, ProviderEntry] = {}
    grouped: dict[str, list[DeploymentEntry]] = {}
    routes = {}
    for d in rows:
        if d.provider_id not in providers:
            p = d.provider
            providers[p.pk] = ProviderEntry(
                p.name, p.kind, p.base_url.rstrip("/"), p.api_key, p.timeout_s
            )
        routes[d.model_route.name] = d.model_route
        grouped.setdefault(d.model_route.name, []).append(
            DeploymentEntry(d.pk, providers[d.provider_id], d.upstream_model, d.priority, d.weight)
        )
    return RouteTable(
        models={
            name: ModelEntry(
                name=name,
                input_price=routes[name].input_price,
                output_price=routes[name].output_price,
                cached_input_price=routes[name].cached_input_price,
                deployments=tuple(sorted(deps, key=lambda d: (d.priority, d.id))),
            )
            for name, deps in grouped.items()
        }
    )


_table: RouteTable | None = None
_loaded_at = 0.0
_lock: asyncio.Lock | None = None


async def current() -> RouteTable:
    global _table, _loaded_at, _lock
    if _table is not None and time.monotonic() - _loaded_at < settings.PROXY_ROUTES_TTL_S:
        return _table
    if _lock is None:
        _lock = asyncio.Lock()
    async with _lock:
        if _table is None or time.monotonic() - _loaded_at >= settings.PROXY_ROUTES_TTL_S:
            _table = await database_sync_to_async(load)()
            _loaded_at = time.monotonic()
    return _table


def invalidate() -> None:
    """Forget the snapshot (after loadroutes in this process, and in tests)."""
    global _table, _lock
    _table = None
    _lock = None
