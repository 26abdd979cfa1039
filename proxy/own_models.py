"""An organization's own models (BYOK), as a route table served to it alone: proxy.gate
looks a name up here before the platform's table, so an own model of a platform model's
name replaces it for that organization, and no other organization ever sees it.

How each is priced and charged, decided here once per load:
- **Over the organization's own providers**: `byok`. The record carries the cost at the
  model's declared prices (zero if none were given) and the organization pays
  BYOK_FEE_PERCENT of it (billing.byok), since its own provider bills it for the tokens.
- **Over the platform's providers**: each deployment must be one a platform model has
  (the same provider and upstream model), and the model is priced as that platform model
  (the first by name, with its dated prices): an organization cannot price the
  platform's upstream at zero. Such a deployment that no platform model has any more is
  skipped, and a model left with none is not served.
A model over both is refused when written (proxy.byok) and skipped here.
"""

import logging
from dataclasses import replace

from django.db.models import Q

from billing.prices import price_schedules
from proxy.models import Deployment
from proxy.table import RouteTable, catalogue, deployment_entries, model_entry

log = logging.getLogger(__name__)

EMPTY = RouteTable(models={})


def load(organization_id: int) -> RouteTable:
    rows = list(
        Deployment.objects.filter(
            Q(provider__organization_id=organization_id) | Q(provider__organization__isnull=True),
            model_route__organization_id=organization_id,
            model_route__is_active=True,
            provider__is_active=True,
        ).select_related("model_route", "provider")
    )
    if not rows:
        return EMPTY
    own_providers = {d.provider_id for d in rows if d.provider.organization_id is not None}
    grouped, routes = deployment_entries(rows)
    mirrors = _platform_mirrors(
        {(d.provider_id, d.upstream_model) for d in rows if d.provider_id not in own_providers}
    )
    dated = price_schedules(models={route.name for route in mirrors.values()})
    models = {}
    for name, deps in grouped.items():
        route = routes[name]
        own = [d for d in deps if d.provider.id in own_providers]
        if len(own) == len(deps):
            models[name] = replace(model_entry(route, deps), byok=True)
            continue
        if own:
            log.error(
                "Model %s of organization %s mixes its own and the platform's providers; skipped.",
                name,
                organization_id,
            )
            continue
        kept = [d for d in deps if (d.provider.id, d.upstream_model) in mirrors]
        if not kept:
            continue
        priced_as = mirrors[(kept[0].provider.id, kept[0].upstream_model)]
        entry = model_entry(priced_as, tuple(kept), dated.get(priced_as.name, ()))
        models[name] = replace(
            entry, name=name, drop_unsupported=route.drop_unsupported, catalogue=catalogue(route)
        )
    return RouteTable(models=models)


def _platform_mirrors(pairs: set[tuple[int, str]]) -> dict:
    """(platform provider id, upstream model) -> the first platform model (by name) with
    that deployment: the model an organization's deployment over it is priced as."""
    if not pairs:
        return {}
    rows = (
        Deployment.objects.filter(
            model_route__organization__isnull=True,
            model_route__is_active=True,
            provider_id__in={p for p, _ in pairs},
            upstream_model__in={m for _, m in pairs},
        )
        .select_related("model_route")
        .order_by("model_route__name")
    )
    out: dict = {}
    for d in rows:
        out.setdefault((d.provider_id, d.upstream_model), d.model_route)
    return {pair: route for pair, route in out.items() if pair in pairs}
