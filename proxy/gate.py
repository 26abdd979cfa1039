"""Who may call what: key and model access, before anything goes upstream (money is
held by proxy.spend, rates by proxy.limits)."""

from proxy import auto, table
from proxy.auth import KeyInfo, authenticate
from proxy.table import ModelEntry
from proxy.translate.errors import ProxyError

__all__ = [
    "admit",
    "authenticate",
    "model_not_found",
    "model_object",
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


async def admit(key: KeyInfo, model_name: str) -> ModelEntry:
    routes = await table.current()
    model = routes.models.get(model_name)
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
    return model


async def route_auto(model: ModelEntry, endpoint: str, body: dict, body_size: int) -> ModelEntry:
    """The candidate that serves this call of automatic model `model` (proxy.auto): the key
    was admitted to the automatic model, which admits it to each of its candidates."""
    routes = await table.current()
    return auto.choose(model, routes.models, endpoint, body, body_size)


async def visible_models(key: KeyInfo) -> list[str]:
    routes = await table.current()
    names = sorted(routes.models)
    if key.allowed_models:
        names = [n for n in names if n in key.allowed_models]
    return names


def model_object(name: str) -> dict:
    return {"id": name, "object": "model", "created": 0, "owned_by": "jinf"}
