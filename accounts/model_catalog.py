"""Which model names the gateway serves, for the key forms' allowed-models choice.

accounts is the lowest layer and cannot read the routes (proxy), so proxy registers a
provider at start (proxy.apps.ProxyConfig.ready). Until one is set, or while it serves
nothing, any name is accepted: the behaviour from before the catalog existed.
"""

from collections.abc import Callable, Iterable

from accounts.errors import FieldError

# organization id (None: the platform's models alone) -> the names it is served
_provider: Callable[[int | None], list[str]] | None = None


def set_provider(fn: Callable[[int | None], list[str]] | None) -> None:
    global _provider
    _provider = fn


def served_models(organization_id: int | None = None) -> list[str]:
    """The model names served to the organization (the platform's and its own), sorted;
    empty when no provider is set."""
    return sorted(set(_provider(organization_id))) if _provider is not None else []


def check_served(
    names: Iterable[str], *, keep: Iterable[str] = (), organization_id: int | None = None
) -> list[str]:
    """`names` unchanged when each is served (or already on the key: `keep`, so a model
    retired since does not block editing the key's other limits); FieldError naming the
    unknown ones and listing the served ones otherwise."""
    names = list(names)
    served = served_models(organization_id)
    if not served:
        return names
    known = set(served) | set(keep)
    unknown = sorted({n for n in names if n not in known})
    if unknown:
        listed = ", ".join(served)
        word = "is" if len(unknown) == 1 else "are"
        raise FieldError(
            "allowed_models",
            f"{', '.join(unknown)} {word} not served here; choose among: {listed}.",
        )
    return names
