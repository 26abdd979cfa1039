"""Who may call what: key and model access, before anything goes upstream (money is
held by proxy.spend, rates by proxy.limits)."""

import time
from decimal import Decimal

from proxy import auto, table
from proxy.auth import KeyInfo, authenticate
from proxy.table import ModelEntry
from proxy.translate.errors import ProxyError

__all__ = [
    "admit",
    "authenticate",
    "lookup",
    "model_not_found",
    "route_auto",
    "visible_models",
]


def model_not_found(name: str) -> ProxyError:
    return ProxyError(
        404,
        f"The model '{name}' does not exist or you do not have access to it. "
        "GET /v1/models lists the models this key can use.",
        param="model",
        code="model_not_found",
    )


async def lookup(key: KeyInfo, model_name: str) -> ModelEntry | None:
    """The model of this name that the key's organization is served: its own (proxy.
    own_models) first, then the platform's."""
    model = (await table.own(key.organization_id)).models.get(model_name)
    if model is None:
        model = (await table.current()).models.get(model_name)
    return model


async def admit(key: KeyInfo, model_name: str) -> ModelEntry:
    model = await lookup(key, model_name)
    if model is None:
        raise model_not_found(model_name)
    if key.allowed_models and model_name not in key.allowed_models:
        raise ProxyError(
            403,
            f"This key may not use the model '{model_name}'. "
            "Allowed: " + ", ".join(key.allowed_models) + ".",
            type="permission_error",
            param="model",
            code="model_not_allowed",
        )
    if key.max_price_micros is not None and model.auto is None:
        over = over_ceiling(model, key.max_price_micros)
        if over:
            raise ProxyError(
                403,
                f"The model '{model_name}' costs {over}, above this key's price ceiling of "
                f"{usd_text(key.max_price_micros)} per million tokens. Use a cheaper model, or raise the "
                "ceiling in the portal (Keys).",
                type="permission_error",
                param="model",
                code="model_over_price_ceiling",
            )
    return model


def over_ceiling(model: ModelEntry, ceiling_micros: int, at: float | None = None) -> str:
    """What of the model's prices in force is above the ceiling, as text; "" if none."""
    prices = model.price_at(time.time() if at is None else at)
    over = [
        f"{usd_text(price)} per million {kind} tokens"
        for kind, price in (("input", prices.input), ("output", prices.output))
        if price > ceiling_micros
    ]
    return " and ".join(over)


def usd_text(micros: int) -> str:
    """Micro-USD (per million tokens) as dollars: 2_250_000 -> "$2.25"."""
    return "$" + format(Decimal(micros) / 10**6, "f").rstrip("0").rstrip(".")


async def route_auto(
    key: KeyInfo, model: ModelEntry, endpoint: str, body: dict, body_size: int
) -> ModelEntry:
    """The candidate that serves this call of automatic model `model` (proxy.auto): the key
    was admitted to the automatic model, which admits it to each of its candidates under
    its price ceiling."""
    routes = await table.current()
    return auto.choose(
        model, routes.models, endpoint, body, body_size, max_price_micros=key.max_price_micros
    )


async def visible_models(key: KeyInfo) -> list[ModelEntry]:
    """The models this key may call, by name: the platform's and its organization's own
    (an own model replacing a platform model of its name), within its allowlist."""
    models = dict((await table.current()).models)
    models.update((await table.own(key.organization_id)).models)
    allowed = key.allowed_models
    return [m for n, m in sorted(models.items()) if not allowed or n in allowed]
