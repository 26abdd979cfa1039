"""The routes file (YAML) of the contract: providers and models, applied idempotently."""

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from django.db import transaction
from django.utils import timezone

from billing.prices import PriceChange, model_price_set
from proxy import crypto
from proxy.models import Deployment, ModelRoute, Provider
from proxy.translate.providers import KINDS


class RoutesFileError(ValueError):
    """The file is not valid; the message says where and what to fix."""


@dataclass
class Summary:
    providers_created: int = 0
    providers_updated: int = 0
    models_created: int = 0
    models_updated: int = 0
    deployments: int = 0
    prices_created: int = 0
    prices_updated: int = 0

    def __str__(self) -> str:
        return (
            f"providers: {self.providers_created} created, {self.providers_updated} updated; "
            f"models: {self.models_created} created, {self.models_updated} updated; "
            f"deployments: {self.deployments}; "
            f"dated prices: {self.prices_created} created, {self.prices_updated} updated"
        )


def price_micros(value: object, where: str) -> int:
    """USD per million tokens → integer micro-USD per million tokens (6 decimals at most)."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise RoutesFileError(
            f"{where}: {value!r} is not a price in USD per million tokens."
        ) from None
    micros = amount * 1_000_000
    if not amount.is_finite() or amount < 0 or micros != micros.to_integral_value():
        raise RoutesFileError(
            f"{where}: a price must be ≥ 0 with at most 6 decimals, not {value!r}."
        )
    return int(micros)


def secret(value: object, where: str) -> str:
    text = "" if value is None else str(value)
    if text.startswith("env:"):
        name = text[4:]
        if name not in os.environ:
            raise RoutesFileError(f"{where}: the environment variable {name} is not set.")
        return os.environ[name]
    return text


def _require(mapping: dict, name: str, where: str):
    if not isinstance(mapping, dict) or mapping.get(name) in (None, ""):
        raise RoutesFileError(f"{where}: '{name}' is required.")
    return mapping[name]


def parse(text: str) -> dict:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise RoutesFileError(f"Not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise RoutesFileError("The routes file must be a mapping with 'providers' and 'models'.")
    for section in ("providers", "models"):
        if not isinstance(data.get(section) or [], list):
            raise RoutesFileError(f"'{section}' must be a list.")
    return data


@transaction.atomic
def apply(data: dict) -> Summary:
    summary = Summary()
    providers: dict[str, Provider] = {p.name: p for p in Provider.objects.all()}
    for i, raw in enumerate(data.get("providers") or []):
        where = f"providers[{i}]"
        name = str(_require(raw, "name", where))
        kind = str(_require(raw, "kind", where))
        if kind not in KINDS:
            raise RoutesFileError(f"{where}: kind must be one of {', '.join(KINDS)}, not {kind!r}.")
        base_url = str(_require(raw, "base_url", where)).rstrip("/")
        key = secret(raw.get("api_key"), f"{where}.api_key")
        try:
            timeout = float(raw.get("timeout_s", 600))
        except (TypeError, ValueError):
            raise RoutesFileError(f"{where}: timeout_s must be a number of seconds.") from None
        provider = providers.get(name)
        created = provider is None
        provider = provider or Provider(name=name)
        changed = (provider.kind, provider.base_url, provider.timeout_s) != (
            kind,
            base_url,
            timeout,
        ) or provider.api_key != key
        if created or changed:
            provider.kind, provider.base_url, provider.timeout_s = kind, base_url, timeout
            provider.api_key_encrypted = crypto.encrypt(key)
            provider.is_active, provider.updated_at = True, timezone.now()
            provider.save()
            summary.providers_created += created
            summary.providers_updated += not created
        providers[name] = provider

    for i, raw in enumerate(data.get("models") or []):
        where = f"models[{i}]"
        name = str(_require(raw, "name", where))
        price = raw.get("price") or {}
        if not isinstance(price, dict):
            raise RoutesFileError(f"{where}.price must be a mapping with input and output.")
        values = {
            "input_price": price_micros(price.get("input", 0), f"{where}.price.input"),
            "output_price": price_micros(price.get("output", 0), f"{where}.price.output"),
            "cached_input_price": None
            if price.get("cached_input") is None
            else price_micros(price["cached_input"], f"{where}.price.cached_input"),
            "cache_write_price": None
            if price.get("cache_write") is None
            else price_micros(price["cache_write"], f"{where}.price.cache_write"),
            "drop_unsupported": _flag(raw, "drop_unsupported", where),
            "is_active": True,
        }
        route = ModelRoute.objects.filter(name=name).first()
        if route is None:
            route = ModelRoute.objects.create(name=name, **values)
            summary.models_created += 1
        elif any(getattr(route, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(route, k, v)
            route.updated_at = timezone.now()
            route.save()
            summary.models_updated += 1
        for change in dated_prices(raw.get("prices"), name, where):
            outcome = model_price_set(change=change, note="routes file")
            summary.prices_created += outcome == "created"
            summary.prices_updated += outcome == "updated"
        deployments = raw.get("deployments") or []
        if not isinstance(deployments, list) or not deployments:
            raise RoutesFileError(f"{where}: 'deployments' must list at least one deployment.")
        keep = []
        for j, dep in enumerate(deployments):
            dwhere = f"{where}.deployments[{j}]"
            provider_name = str(_require(dep, "provider", dwhere))
            if provider_name not in providers:
                raise RoutesFileError(f"{dwhere}: no provider is named {provider_name!r}.")
            try:
                priority, weight = int(dep.get("priority", 0)), int(dep.get("weight", 1))
            except (TypeError, ValueError):
                raise RoutesFileError(
                    f"{dwhere}: priority and weight must be whole numbers."
                ) from None
            if weight < 1:
                raise RoutesFileError(f"{dwhere}: weight must be at least 1.")
            deployment, _ = Deployment.objects.update_or_create(
                model_route=route,
                provider=providers[provider_name],
                upstream_model=str(dep.get("model") or name),
                defaults={"priority": priority, "weight": weight},
            )
            keep.append(deployment.pk)
            summary.deployments += 1
        Deployment.objects.filter(model_route=route).exclude(pk__in=keep).delete()
    return summary


def dated_prices(entries: object, model: str, where: str) -> list[PriceChange]:
    """The model's optional `prices:` list: each `{from: YYYY-MM-DD[THH:MM], input, output,
    cached_input?, cache_write?}` (USD per million tokens; times UTC), its price from then."""
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise RoutesFileError(f"{where}.prices must be a list of {{from, input, output}} entries.")
    out = []
    for k, entry in enumerate(entries):
        pwhere = f"{where}.prices[{k}]"
        if not isinstance(entry, dict):
            raise RoutesFileError(f"{pwhere} must be a mapping with from, input and output.")
        for name in ("input", "output"):
            if entry.get(name) is None:
                raise RoutesFileError(f"{pwhere}: '{name}' is required.")
        out.append(
            PriceChange(
                model=model,
                effective_from=effective_from(_require(entry, "from", pwhere), f"{pwhere}.from"),
                input_price=price_micros(entry["input"], f"{pwhere}.input"),
                output_price=price_micros(entry["output"], f"{pwhere}.output"),
                cached_input_price=_optional_price(entry, "cached_input", pwhere),
                cache_write_price=_optional_price(entry, "cache_write", pwhere),
            )
        )
    starts = [c.effective_from for c in out]
    if len(set(starts)) != len(starts):
        raise RoutesFileError(f"{where}.prices: two entries start at the same time.")
    return out


def effective_from(value: object, where: str) -> datetime:
    """YYYY-MM-DD or YYYY-MM-DDTHH:MM, in UTC (YAML reads a bare date as a date)."""
    if isinstance(value, datetime):
        at = value
    elif isinstance(value, date):
        at = datetime(value.year, value.month, value.day)
    else:
        try:
            at = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise RoutesFileError(
                f"{where}: {value!r} is not a date; write YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC)."
            ) from None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _optional_price(entry: dict, name: str, where: str) -> int | None:
    return None if entry.get(name) is None else price_micros(entry[name], f"{where}.{name}")


def load_path(path: str | Path) -> Summary:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise RoutesFileError(f"Cannot read the routes file {path}: {exc.strerror}.") from None
    return apply(parse(text))


def _flag(raw: dict, name: str, where: str) -> bool:
    value = raw.get(name, False)
    if not isinstance(value, bool):
        raise RoutesFileError(f"{where}.{name} must be true or false, not {value!r}.")
    return value
