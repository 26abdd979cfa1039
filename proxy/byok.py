"""An organization's own providers and models (BYOK): adding, listing, removing.

Owners and admins write; every member reads. A provider's key is encrypted at rest
(proxy.crypto) and never returned: not by the API, a page or a log. Each change reloads
the organization's table in this process at once (proxy.table.forget_own), and in the
others within PROXY_ROUTES_TTL_S. How each model is priced: proxy.own_models.
"""

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from accounts.errors import Conflict, FieldError, NotAllowed
from accounts.models import Organization
from proxy import crypto, table
from proxy.models import Deployment, ModelRoute, Provider
from proxy.translate.providers import KINDS

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}$")
MAX_DEPLOYMENTS = 8
MAX_KEY_CHARS = 4096


def _require_manager(acting, what: str) -> Organization:
    if not acting.can_manage:
        raise NotAllowed(f"Only an admin or owner can {what}.")
    return acting.organization


# --- Providers -------------------------------------------------------------------------


def providers_of(*, organization: Organization) -> list[Provider]:
    return list(Provider.objects.filter(organization=organization).order_by("name"))


def provider_get(*, organization: Organization, name: str) -> Provider:
    """404 for a name the organization has no provider of: another's is not told apart."""
    provider = Provider.objects.filter(organization=organization, name=name).first()
    if provider is None:
        raise Http404("No such provider.")
    return provider


def provider_add(
    *, acting, name: str, kind: str, base_url: str, api_key: str = "", timeout_s: float = 600.0
) -> Provider:
    org = _require_manager(acting, "add a provider")
    name = (name or "").strip()
    if not NAME.match(name):
        raise FieldError(
            "name",
            "Use 1 to 100 lowercase letters, digits, '-' or '_', starting with a letter or digit.",
        )
    if kind not in KINDS:
        raise FieldError("kind", f"Use one of {', '.join(KINDS)}.")
    base_url = checked_base_url(base_url)
    _check_key_and_timeout(api_key, timeout_s)
    try:
        with transaction.atomic():
            provider = Provider.objects.create(
                organization=org,
                name=name,
                kind=kind,
                base_url=base_url,
                api_key_encrypted=crypto.encrypt((api_key or "").strip()),
                timeout_s=float(timeout_s),
                updated_at=timezone.now(),
            )
    except IntegrityError:
        raise Conflict(
            f"This organization has a provider named {name!r}. Remove it first, or choose "
            "another name."
        ) from None
    table.forget_own(org.pk)
    return provider


def provider_update(
    *,
    acting,
    name: str,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout_s: float | None = None,
) -> Provider:
    """Changes what is given (None: kept): a rotated key or a moved server keeps the
    provider's models. The new key is stored encrypted, the old one is gone."""
    org = _require_manager(acting, "change a provider")
    provider = provider_get(organization=org, name=name)
    _check_key_and_timeout(api_key, timeout_s)
    if base_url is not None:
        provider.base_url = checked_base_url(base_url)
    if api_key is not None:
        provider.api_key_encrypted = crypto.encrypt(api_key.strip())
    if timeout_s is not None:
        provider.timeout_s = float(timeout_s)
    provider.updated_at = timezone.now()
    provider.save(update_fields=["base_url", "api_key_encrypted", "timeout_s", "updated_at"])
    table.forget_own(org.pk)
    return provider


def _check_key_and_timeout(api_key: str | None, timeout_s: float | None) -> None:
    if len(api_key or "") > MAX_KEY_CHARS:
        raise FieldError("api_key", f"A key has at most {MAX_KEY_CHARS} characters.")
    if timeout_s is not None and not 0.1 <= float(timeout_s) <= 3600:
        raise FieldError("timeout_s", "Use 0.1 to 3600 seconds.")


def provider_remove(*, acting, name: str) -> None:
    org = _require_manager(acting, "remove a provider")
    provider = provider_get(organization=org, name=name)
    using = sorted(
        ModelRoute.objects.filter(organization=org, deployments__provider=provider)
        .values_list("name", flat=True)
        .distinct()
    )
    if using:
        raise Conflict(
            f"The provider {name!r} serves the models {', '.join(using)}. Remove those "
            "models first."
        )
    provider.delete()
    table.forget_own(org.pk)


def checked_base_url(raw: str) -> str:
    """An http(s) URL without credentials; unless BYOK_ALLOW_PRIVATE_URLS, its host must
    not be (or resolve to) a loopback, private, link-local or reserved address."""
    url = (raw or "").strip().rstrip("/")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FieldError("base_url", "This is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FieldError(
            "base_url", "Use an http:// or https:// URL, such as https://api.openai.com/v1."
        )
    if parts.username or parts.password:
        raise FieldError("base_url", "Put the key in api_key, not in the URL.")
    if len(url) > 500:
        raise FieldError("base_url", "A URL has at most 500 characters.")
    if not settings.BYOK_ALLOW_PRIVATE_URLS and _private(parts.hostname, port):
        raise FieldError(
            "base_url",
            f"{parts.hostname} is a private or local address, which this gateway does not "
            "call for organizations. Use the provider's public URL.",
        )
    return url


def _private(host: str, port: int | None) -> bool:
    try:
        addresses = [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
        except OSError:
            return False  # it resolves nowhere now: calls to it fail, reaching nothing
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    return any(not a.is_global or a.is_multicast for a in addresses)


# --- Models ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OwnModel:
    route: ModelRoute
    deployments: list[Deployment]

    @property
    def byok(self) -> bool:
        return all(d.provider.organization_id is not None for d in self.deployments)


def models_of(*, organization: Organization) -> list[OwnModel]:
    routes = ModelRoute.objects.filter(organization=organization).order_by("name")
    deployments: dict[int, list[Deployment]] = {}
    for d in Deployment.objects.filter(model_route__organization=organization).select_related(
        "provider"
    ):
        deployments.setdefault(d.model_route_id, []).append(d)
    return [
        OwnModel(r, sorted(deployments.get(r.pk, []), key=lambda d: (d.priority, d.pk)))
        for r in routes
    ]


def model_get(*, organization: Organization, name: str) -> OwnModel:
    for model in models_of(organization=organization):
        if model.route.name == name:
            return model
    raise Http404("No such model.")


def model_add(
    *,
    acting,
    name: str,
    deployments: list[dict],
    input_price_micros: int | None = None,
    output_price_micros: int | None = None,
    context_window: int | None = None,
    max_output_tokens: int | None = None,
) -> OwnModel:
    """A model served to the organization alone, over its own providers (priced as
    declared, zero if not; the fee is charged) or over the platform's (each deployment
    one a platform model has, priced as that model; no prices may be declared)."""
    org = _require_manager(acting, "add a model")
    name = (name or "").strip()
    if not MODEL_NAME.match(name):
        raise FieldError(
            "name",
            "Use 1 to 200 letters, digits or . _ : / @ + -, starting with a letter or digit.",
        )
    if not isinstance(deployments, list) or not 1 <= len(deployments) <= MAX_DEPLOYMENTS:
        raise FieldError("deployments", f"List 1 to {MAX_DEPLOYMENTS} deployments.")
    resolved = [_deployment(org, raw, i) for i, raw in enumerate(deployments)]
    own = {p.organization_id is not None for p, _ in resolved}
    if len(own) > 1:
        raise FieldError(
            "deployments",
            "A model is served by the organization's own providers or by the platform's, not "
            "both: they are charged differently. Define two models.",
        )
    if own == {False}:
        if input_price_micros or output_price_micros:
            raise FieldError(
                "input_price_usd",
                "A model over the platform's providers is priced as the platform's model; "
                "leave out its prices.",
            )
        for provider, upstream in resolved:
            if not Deployment.objects.filter(
                model_route__organization__isnull=True,
                model_route__is_active=True,
                provider=provider,
                upstream_model=upstream,
            ).exists():
                raise FieldError(
                    "deployments",
                    f"No platform model is served by {provider.name} as {upstream!r}. "
                    "GET /v1/models and the Models page list the platform's models.",
                )
    try:
        with transaction.atomic():
            route = ModelRoute.objects.create(
                organization=org,
                name=name,
                input_price=input_price_micros or 0,
                output_price=output_price_micros or 0,
                context_window=context_window,
                max_output_tokens=max_output_tokens,
            )
            rows = [
                Deployment.objects.create(
                    model_route=route, provider=provider, upstream_model=upstream, priority=i
                )
                for i, (provider, upstream) in enumerate(resolved)
            ]
    except IntegrityError:
        raise Conflict(
            f"This organization has a model named {name!r}, or lists one deployment twice. "
            "Remove the model first, or choose another name."
        ) from None
    table.forget_own(org.pk)
    return OwnModel(route, rows)


def _deployment(org: Organization, raw: object, i: int) -> tuple[Provider, str]:
    where = f"deployments[{i}]"
    if not isinstance(raw, dict):
        raise FieldError("deployments", f"{where} must be an object with provider and model.")
    provider_name, upstream = raw.get("provider"), raw.get("model")
    if not isinstance(provider_name, str) or not provider_name:
        raise FieldError(
            "deployments", f"{where}.provider: name one of your providers or the platform's."
        )
    if not isinstance(upstream, str) or not upstream.strip() or len(upstream) > 200:
        raise FieldError(
            "deployments", f"{where}.model: the upstream model's name, 1 to 200 characters."
        )
    # The organization's own provider of that name first, then the platform's.
    candidates = Provider.objects.filter(
        Q(organization=org) | Q(organization__isnull=True), name=provider_name, is_active=True
    )
    provider = min(candidates, key=lambda p: p.organization_id is None, default=None)
    if provider is None:
        raise FieldError(
            "deployments",
            f"{where}.provider: no provider is named {provider_name!r}. Add it first "
            "(POST …/providers/).",
        )
    return provider, upstream.strip()


def model_remove(*, acting, name: str) -> None:
    org = _require_manager(acting, "remove a model")
    deleted, _ = ModelRoute.objects.filter(organization=org, name=name).delete()
    if not deleted:
        raise Http404("No such model.")
    table.forget_own(org.pk)
