"""The Models page: what the gateway serves this organization, at what price, on which
endpoints, what it takes (proxy.catalogue, the data /v1/models shows), and whether this
process sees it healthy or cooling down; and the Playground, which streams through the
real /v1 with a key the user pastes (never sent here)."""

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Membership
from accounts.views.access import member_view
from proxy import balancer, table
from proxy.catalogue import Capabilities, Endpoint, capabilities, endpoints
from proxy.translate.providers import KINDS

PICO_PER_MICRO = 10**6  # prices are micro-USD per million tokens


@dataclass(frozen=True)
class PriceRow:
    """Prices in pico-USD per million tokens, as in force from `since` (None: now)."""

    input: int
    output: int
    cached_input: int
    cached_input_own: bool  # False: no own price, cache reads cost the input price
    cache_write: int
    cache_write_own: bool  # False: 1.25 × input (billing.usage.cost_pico)
    since: datetime | None = None


@dataclass(frozen=True)
class DeploymentStatus:
    provider: str
    kind: str
    cooling_until: datetime | None


@dataclass(frozen=True)
class ServedModel:
    name: str
    price: PriceRow
    upcoming: PriceRow | None
    endpoints: tuple[Endpoint, ...]
    deployments: tuple[DeploymentStatus, ...]
    takes: Capabilities  # proxy.catalogue's, as /v1/models shows it

    @property
    def context_window(self) -> str:
        n = self.takes.context_window
        return "not set" if n is None else f"{n:,}"

    @property
    def max_output(self) -> str:
        n = self.takes.max_output_tokens
        return "not set" if n is None else f"{n:,}"

    @property
    def cooling_until(self) -> datetime | None:
        """Cooling down until the first deployment is back, when all of them are cooling."""
        times = [d.cooling_until for d in self.deployments]
        return None if not times or None in times else min(times)


def _price_row(prices: table.Prices, since: float | None = None) -> PriceRow:
    return PriceRow(
        input=prices.input * PICO_PER_MICRO,
        output=prices.output * PICO_PER_MICRO,
        cached_input=(prices.input if prices.cached_input is None else prices.cached_input)
        * PICO_PER_MICRO,
        cached_input_own=prices.cached_input is not None,
        cache_write=prices.input * PICO_PER_MICRO * 5 // 4
        if prices.cache_write is None
        else prices.cache_write * PICO_PER_MICRO,
        cache_write_own=prices.cache_write is not None,
        since=None if since is None else datetime.fromtimestamp(since, UTC),
    )


def served_models(organization_id: int | None, *, now: float | None = None) -> list[ServedModel]:
    """Every model the organization is served (the platform's and its own, loaded
    afresh), by name."""
    now = time.time() if now is None else now
    models = []
    served = table.served(organization_id)
    for name, entry in served.items():
        upcoming = None
        for start, prices in zip(entry.starts, entry.prices, strict=False):
            if start > now:
                upcoming = _price_row(prices, start)
                break
        deployments = []
        for d in entry.deployments:
            until = balancer.cooling_until(d.id)
            deployments.append(
                DeploymentStatus(
                    provider=d.provider.name,
                    kind=KINDS[d.provider.kind].label,
                    cooling_until=None if until is None else datetime.fromtimestamp(until, UTC),
                )
            )
        models.append(
            ServedModel(
                name=name,
                price=_price_row(entry.price_at(now)),
                upcoming=upcoming,
                endpoints=endpoints(entry, served),
                deployments=tuple(deployments),
                takes=capabilities(entry, served),
            )
        )
    return models


@member_view
def models_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    models = served_models(membership.organization_id)
    context = {"membership": membership, "models": models, "current": "models"}
    return render(request, "dashboard/models.html", context)


@member_view
def playground(request: HttpRequest, membership: Membership) -> HttpResponse:
    names = [m.name for m in served_models(membership.organization_id)]
    context = {"membership": membership, "model_names": names, "current": "playground"}
    return render(request, "dashboard/playground.html", context)
