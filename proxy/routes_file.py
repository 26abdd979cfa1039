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
    providers: dict[str, Provider] = {
        p.name: p for p in Provider.objects.filter(organization__isnull=True)
    }
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

    names = _model_kinds(data.get("models") or [])
    for i, raw in enumerate(data.get("models") or []):
        where = f"models[{i}]"
        name = str(_require(raw, "name", where))
        auto = raw.get("auto")
        if auto is not None and raw.get("deployments") is not None:
            raise RoutesFileError(
                f"{where}: an automatic model has 'auto' or 'deployments', not both."
            )
        if auto is not None and raw.get("price") is not None:
            raise RoutesFileError(
                f"{where}: an automatic model has no 'price': each call is priced at the "
                "chosen candidate's prices. Remove 'price'."
            )
        if auto is not None and raw.get("prices") is not None:
            raise RoutesFileError(f"{where}: an automatic model has no 'prices'. Remove it.")
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
            **catalogue(raw, where),
            "auto": None if auto is None else auto_spec(auto, name, names, f"{where}.auto"),
            "is_active": True,
        }
        route = ModelRoute.objects.filter(organization__isnull=True, name=name).first()
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
        if auto is not None:
            Deployment.objects.filter(model_route=route).delete()
            continue
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


def _flag(raw: dict, name: str, where: str, default: bool = False) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        raise RoutesFileError(f"{where}.{name} must be true or false, not {value!r}.")
    return value


MODALITIES = ("text", "image", "file", "audio")
PREFER = ("order", "cheapest", "fastest")
AUTO_KEYS = frozenset({"candidates", "prefer", "max_error_rate", "max_ttfb_ms"})
CANDIDATE_KEYS = frozenset({"model", "max_input_tokens", "tools"})


def catalogue(raw: dict, where: str) -> dict:
    """The model's optional catalogue fields, as ModelRoute values: context_window,
    max_output_tokens, modalities (default [text]), tools and json_schema (default true)."""
    modalities = raw.get("modalities", ["text"])
    if (
        not isinstance(modalities, list)
        or not modalities
        or any(not isinstance(m, str) or m not in MODALITIES for m in modalities)
    ):
        raise RoutesFileError(
            f"{where}.modalities must be a non-empty list of {', '.join(MODALITIES)}, "
            f"not {modalities!r}."
        )
    return {
        "context_window": _count(raw, "context_window", where),
        "max_output_tokens": _count(raw, "max_output_tokens", where),
        "input_modalities": list(dict.fromkeys(modalities)),
        "supports_tools": _flag(raw, "tools", where, default=True),
        "supports_json_schema": _flag(raw, "json_schema", where, default=True),
    }


def _count(raw: dict, name: str, where: str) -> int | None:
    value = raw.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RoutesFileError(
            f"{where}.{name} must be a whole number of tokens ≥ 1, not {value!r}."
        )
    return value


def _model_kinds(models: list) -> dict[str, bool]:
    """Every model this file or the database knows: name → is automatic."""
    known = dict(ModelRoute.objects.filter(organization__isnull=True).values_list("name", "auto"))
    kinds = {name: value is not None for name, value in known.items()}
    for raw in models:
        if isinstance(raw, dict) and raw.get("name") not in (None, ""):
            kinds[str(raw["name"])] = raw.get("auto") is not None
    return kinds


def auto_spec(value: object, name: str, kinds: dict[str, bool], where: str) -> dict:
    """The `auto:` mapping, validated and returned as stored (proxy.auto.spec_from_json
    reads it)."""
    if not isinstance(value, dict):
        raise RoutesFileError(f"{where} must be a mapping with 'candidates'.")
    unknown = sorted(set(map(str, value)) - AUTO_KEYS)
    if unknown:
        raise RoutesFileError(
            f"{where}: unknown key(s) {', '.join(unknown)}; use {', '.join(sorted(AUTO_KEYS))}."
        )
    candidates = value.get("candidates")
    if not isinstance(candidates, list) or not candidates:
        raise RoutesFileError(
            f"{where}.candidates must be a non-empty list of model names or "
            "{model, max_input_tokens?, tools?} mappings."
        )
    out: dict = {"candidates": []}
    for k, item in enumerate(candidates):
        cwhere = f"{where}.candidates[{k}]"
        if isinstance(item, dict):
            bad = sorted(set(map(str, item)) - CANDIDATE_KEYS)
            if bad:
                raise RoutesFileError(
                    f"{cwhere}: unknown key(s) {', '.join(bad)}; "
                    f"use {', '.join(sorted(CANDIDATE_KEYS))}."
                )
            model = item.get("model")
            if not isinstance(model, str) or not model:
                raise RoutesFileError(f"{cwhere}: 'model' is required.")
            entry: dict = {"model": model}
            if item.get("max_input_tokens") is not None:
                entry["max_input_tokens"] = _count(item, "max_input_tokens", cwhere)
            if item.get("tools") is not None:
                entry["tools"] = _flag(item, "tools", cwhere)
        elif isinstance(item, str) and item:
            model, entry = item, item
        else:
            raise RoutesFileError(f"{cwhere} must be a model name or a mapping with 'model'.")
        if model == name:
            raise RoutesFileError(f"{cwhere}: an automatic model cannot be its own candidate.")
        if model not in kinds:
            raise RoutesFileError(
                f"{cwhere}: no model is named {model!r} in this file or the database."
            )
        if kinds[model]:
            raise RoutesFileError(
                f"{cwhere}: {model!r} is itself automatic; a candidate must be a normal model."
            )
        out["candidates"].append(entry)
    prefer = value.get("prefer")
    if prefer is not None:
        if prefer not in PREFER:
            raise RoutesFileError(
                f"{where}.prefer must be one of {', '.join(PREFER)}, not {prefer!r}."
            )
        out["prefer"] = prefer
    rate = value.get("max_error_rate")
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise RoutesFileError(
                f"{where}.max_error_rate must be a number from 0 to 1, not {rate!r}."
            )
        out["max_error_rate"] = rate
    ttfb = value.get("max_ttfb_ms")
    if ttfb is not None:
        if isinstance(ttfb, bool) or not isinstance(ttfb, int | float) or ttfb <= 0:
            raise RoutesFileError(
                f"{where}.max_ttfb_ms must be a number of milliseconds > 0, not {ttfb!r}."
            )
        out["max_ttfb_ms"] = ttfb
    return out
