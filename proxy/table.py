"""The routes as one immutable in-process snapshot, reloaded every few seconds.

The hot path reads `current()` with no database work; a reload happens in the background
about every PROXY_ROUTES_TTL_S / 2 per process, in one query, with the secrets decrypted
once.
"""

import logging
from dataclasses import dataclass

from django.conf import settings

from proxy.loading_cache import LoadingCache
from proxy.models import Deployment
from proxy.translate.providers import KINDS, Adapter
from proxy.translate.wire import Upstream

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    name: str
    kind: str
    base_url: str
    api_key: str
    timeout_s: float
    adapter: Adapter


@dataclass(frozen=True, slots=True)
class DeploymentEntry:
    id: int
    provider: ProviderEntry
    upstream_model: str
    priority: int
    weight: int
    upstream: Upstream  # what the adapters address: base URL, key, upstream model


@dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str
    input_price: int
    output_price: int
    cached_input_price: int | None
    cache_write_price: int | None
    drop_unsupported: bool
    deployments: tuple[DeploymentEntry, ...]


@dataclass(frozen=True, slots=True)
class RouteTable:
    models: dict[str, ModelEntry]


def load() -> RouteTable:
    rows = Deployment.objects.filter(
        model_route__is_active=True, provider__is_active=True
    ).select_related("model_route", "provider")
    providers: dict[int, ProviderEntry | None] = {}
    grouped: dict[str, list[DeploymentEntry]] = {}
    routes = {}
    for d in rows:
        if d.provider_id not in providers:
            providers[d.provider_id] = _provider(d.provider)
        provider = providers[d.provider_id]
        if provider is None:
            continue
        routes[d.model_route.name] = d.model_route
        grouped.setdefault(d.model_route.name, []).append(
            DeploymentEntry(
                d.pk,
                provider,
                d.upstream_model,
                d.priority,
                d.weight,
                Upstream(provider.base_url, provider.api_key, d.upstream_model),
            )
        )
    return RouteTable(
        models={
            name: ModelEntry(
                name=name,
                input_price=routes[name].input_price,
                output_price=routes[name].output_price,
                cached_input_price=routes[name].cached_input_price,
                cache_write_price=routes[name].cache_write_price,
                drop_unsupported=routes[name].drop_unsupported,
                deployments=tuple(sorted(deps, key=lambda d: (d.priority, d.id))),
            )
            for name, deps in grouped.items()
        }
    )


def _provider(p) -> ProviderEntry | None:
    if p.kind not in KINDS:
        log.error("Provider %s has kind %r, which no adapter serves; skipped.", p, p.kind)
        return None
    return ProviderEntry(
        p.name, p.kind, p.base_url.rstrip("/"), p.api_key, p.timeout_s, KINDS[p.kind]
    )


_snapshot: LoadingCache[None, RouteTable] = LoadingCache(
    lambda _: load(), ttl=lambda: settings.PROXY_ROUTES_TTL_S, max_entries=1
)


async def current() -> RouteTable:
    return await _snapshot.get(None)


def invalidate() -> None:
    """Forget the snapshot (after loadroutes in this process, and in tests)."""
    _snapshot.clear()
