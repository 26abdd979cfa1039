"""The routes as one immutable in-process snapshot, reloaded every few seconds.

The hot path reads `current()` with no database work; a reload happens in the background
about every PROXY_ROUTES_TTL_S / 2 per process, in one query, with the secrets decrypted
once.
"""

import logging
from bisect import bisect_right
from dataclasses import dataclass

from django.conf import settings

from billing.prices import price_schedules
from billing.usage import cost_pico
from proxy.loading_cache import LoadingCache
from proxy.models import Deployment, ModelRoute
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
    id: int = 0


@dataclass(frozen=True, slots=True)
class DeploymentEntry:
    id: int
    provider: ProviderEntry
    upstream_model: str
    priority: int
    weight: int
    upstream: Upstream  # what the adapters address: base URL, key, upstream model


@dataclass(frozen=True, slots=True)
class Prices:
    """A model's prices, integer micro-USD per million tokens (None: the default rule of
    billing.usage.cost_pico for cache reads and writes)."""

    input: int
    output: int
    cached_input: int | None = None
    cache_write: int | None = None

    def cost(self, input_tokens: int, output: int, cached: int, written: int) -> int:
        return cost_pico(
            input_tokens=input_tokens,
            output_tokens=output,
            cached_tokens=cached,
            cache_write_tokens=written,
            input_price=self.input,
            output_price=self.output,
            cached_input_price=self.cached_input,
            cache_write_price=self.cache_write,
        )

    def dearest_input(self, *, cache_writes: bool) -> int:
        """The most one input token can cost: plain, or written to the cache (at 1.25 ×
        input when no cache write price is set and an upstream may report writes)."""
        if self.cache_write is not None:
            return max(self.input, self.cache_write)
        return (self.input * 5 + 3) // 4 if cache_writes else self.input


@dataclass(frozen=True, slots=True)
class Catalogue:
    """What a model can take, as the routes file declares it (None: not declared): the
    extra fields of /v1/models, and what the automatic model (proxy.auto) checks."""

    context_window: int | None = None  # tokens, input and output together
    max_output_tokens: int | None = None
    input_modalities: tuple[str, ...] = ("text",)  # text, image, file, audio
    tools: bool = True
    json_schema: bool = True


@dataclass(frozen=True, slots=True)
class ModelEntry:
    name: str
    input_price: int  # the route's own prices: in force before its first dated price
    output_price: int
    cached_input_price: int | None
    cache_write_price: int | None
    drop_unsupported: bool
    deployments: tuple[DeploymentEntry, ...]
    # The price schedule: `prices[i]` is in force from POSIX time `starts[i]` on; the
    # first entry (from -inf) is the route's own prices, then its ModelPrice rows.
    starts: tuple[float, ...] = (float("-inf"),)
    prices: tuple[Prices, ...] = ()
    # A deployment's kind reports cache writes (Anthropic's); OpenAI-kind usage has none.
    cache_writes: bool = False
    catalogue: Catalogue = Catalogue()
    # An automatic model (proxy.auto.AutoSpec): no deployments of its own; each call is
    # served by one of its candidates, other models of the same table.
    auto: object | None = None
    # Served by an organization's own provider keys: the organization pays the platform
    # BYOK_FEE_PERCENT of the cost at the model's prices (billing.byok), not the cost.
    byok: bool = False

    def price_at(self, at: float) -> Prices:
        """The prices in force at POSIX time `at`: no database work, so a future-dated
        price takes effect at its time in every process, without a reload."""
        prices = self.prices
        if len(prices) == 1:
            return prices[0]
        if not prices:  # an entry made without a schedule: its own prices
            return Prices(
                self.input_price, self.output_price, self.cached_input_price, self.cache_write_price
            )
        return prices[bisect_right(self.starts, at) - 1]


@dataclass(frozen=True, slots=True)
class RouteTable:
    models: dict[str, ModelEntry]


def load() -> RouteTable:
    """The platform's models (the routes file's) over the platform's providers."""
    rows = Deployment.objects.filter(
        model_route__organization__isnull=True,
        provider__organization__isnull=True,
        model_route__is_active=True,
        provider__is_active=True,
    ).select_related("model_route", "provider")
    grouped, routes = deployment_entries(rows)
    dated = price_schedules(models=grouped)
    models = {
        name: model_entry(routes[name], deps, dated.get(name, ())) for name, deps in grouped.items()
    }
    models.update(_auto_entries(models))
    return RouteTable(models=models)


def deployment_entries(
    rows,
) -> tuple[dict[str, tuple[DeploymentEntry, ...]], dict[str, ModelRoute]]:
    """Deployment rows as entries, by their route's name in the balancer's order
    (priority, then id); and the routes by name."""
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
    ordered = {
        name: tuple(sorted(deps, key=lambda d: (d.priority, d.id)))
        for name, deps in grouped.items()
    }
    return ordered, routes


def _auto_entries(models: dict[str, ModelEntry]) -> dict[str, ModelEntry]:
    """The active automatic models (no Deployment rows, so a second query): no
    deployments, zero prices; dropped when none of their candidates is in the table."""
    from proxy.auto import spec_from_json  # proxy.auto imports this module

    out = {}
    for route in ModelRoute.objects.filter(is_active=True, auto__isnull=False):
        raw = route.auto
        spec = spec_from_json(raw)
        names = [c if isinstance(c, str) else c.get("model") for c in raw.get("candidates", ())]
        if not any(n in models for n in names):
            log.error(
                "Automatic model %s has none of its candidates (%s) in the table; skipped.",
                route.name,
                ", ".join(map(str, names)),
            )
            continue
        entry = model_entry(route, ())
        out[route.name] = ModelEntry(
            name=route.name,
            input_price=0,
            output_price=0,
            cached_input_price=None,
            cache_write_price=None,
            drop_unsupported=route.drop_unsupported,
            deployments=(),
            prices=(Prices(0, 0),),
            catalogue=entry.catalogue,
            auto=spec,
        )
    return out


def catalogue(route) -> Catalogue:
    """The route's catalogue fields (a stand-in object without them: the defaults)."""
    modalities = getattr(route, "input_modalities", None)
    return Catalogue(
        context_window=getattr(route, "context_window", None),
        max_output_tokens=getattr(route, "max_output_tokens", None),
        input_modalities=tuple(modalities) if modalities else ("text",),
        tools=getattr(route, "supports_tools", True),
        json_schema=getattr(route, "supports_json_schema", True),
    )


def model_entry(route, deployments: tuple[DeploymentEntry, ...], dated=()) -> ModelEntry:
    """A route with its price schedule: its own prices, then each dated price (billing's
    ModelPrice rows of its name, oldest first) from its effective time on."""
    base = Prices(
        route.input_price, route.output_price, route.cached_input_price, route.cache_write_price
    )
    starts, prices = [float("-inf")], [base]
    for row in dated:
        starts.append(row.effective_from.timestamp())
        prices.append(
            Prices(row.input_price, row.output_price, row.cached_input_price, row.cache_write_price)
        )
    return ModelEntry(
        name=route.name,
        input_price=route.input_price,
        output_price=route.output_price,
        cached_input_price=route.cached_input_price,
        cache_write_price=route.cache_write_price,
        drop_unsupported=route.drop_unsupported,
        deployments=deployments,
        starts=tuple(starts),
        prices=tuple(prices),
        cache_writes=any(d.provider.kind == "anthropic" for d in deployments),
        catalogue=catalogue(route),
    )


def _provider(p) -> ProviderEntry | None:
    if p.kind not in KINDS:
        log.error("Provider %s has kind %r, which no adapter serves; skipped.", p, p.kind)
        return None
    return ProviderEntry(
        p.name, p.kind, p.base_url.rstrip("/"), p.api_key, p.timeout_s, KINDS[p.kind], p.pk
    )


_snapshot: LoadingCache[None, RouteTable] = LoadingCache(
    lambda _: load(), ttl=lambda: settings.PROXY_ROUTES_TTL_S, max_entries=1
)


async def current() -> RouteTable:
    return await _snapshot.get(None)


def invalidate() -> None:
    """Forget the snapshots (after loadroutes in this process, and in tests)."""
    _snapshot.clear()
    _own.clear()


def _load_own(organization_id: int) -> RouteTable:
    from proxy import own_models  # it builds on this module

    return own_models.load(organization_id)


_own: LoadingCache[int, RouteTable] = LoadingCache(
    _load_own,
    ttl=lambda: settings.PROXY_ROUTES_TTL_S,
)


async def own(organization_id: int) -> RouteTable:
    """The organization's own models (proxy.own_models): most organizations have none,
    an empty table served from memory like the platform's."""
    return await _own.get(organization_id)


def forget_own(organization_id: int) -> None:
    """Reload the organization's models on its next call (after it changed them here)."""
    _own.forget(organization_id)


def served(organization_id: int | None) -> dict[str, ModelEntry]:
    """What an organization is served, loaded afresh (the portal's pages): the platform's
    models, and its own over them (an own model of a platform model's name replaces it
    for that organization)."""
    models = dict(load().models)
    if organization_id is not None:
        models.update(_load_own(organization_id).models)
    return dict(sorted(models.items()))
