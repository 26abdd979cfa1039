"""The plans file (YAML) of the contract: a list of plans, checked before anything is
written; errors name the entry and the field to fix."""

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from accounts.money import usd_to_pico
from billing.models import Overage, PlanKind

FIELDS = frozenset({"name", "kind", "default", "monthly_fee_usd", "included_usd", "overage"})
NAME = re.compile(r"^[-a-zA-Z0-9_]{1,60}$")


class PlansFileError(ValueError):
    """The file is not valid; the message says where and what to fix."""


@dataclass(frozen=True, slots=True)
class PlanSpec:
    """One plan as the file gives it, in pico-USD."""

    name: str
    kind: str
    is_default: bool = False
    monthly_fee_pico: int = 0
    included_pico: int = 0
    overage: str = ""


def parse(text: str) -> dict:
    """The file's mapping, as YAML reads it (checked by `specs`)."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise PlansFileError(f"Not valid YAML: {exc}") from None
    specs(data)
    return data


def specs(data: object) -> list[PlanSpec]:
    """The plans of a file's mapping; PlansFileError naming the entry and field."""
    if not isinstance(data, dict) or not isinstance(data.get("plans"), list):
        raise PlansFileError("The plans file must be a mapping with a list under 'plans'.")
    out = [_spec(raw, i) for i, raw in enumerate(data["plans"])]
    names = [s.name for s in out]
    for name in names:
        if names.count(name) > 1:
            raise PlansFileError(f"Two plans are named {name!r}; each name must be unique.")
    defaults = [s.name for s in out if s.is_default]
    if len(defaults) > 1:
        raise PlansFileError(f"Plans {', '.join(defaults)} are all marked default; mark only one.")
    return out


def _spec(raw: object, i: int) -> PlanSpec:
    where = f"plans[{i}]"
    if not isinstance(raw, dict):
        raise PlansFileError(f"{where} must be a mapping with name and kind.")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise PlansFileError(
            f"{where}.name: {name!r} is not a plan name; use letters, digits, - and _ (60 at most)."
        )
    where = f"plans[{i}] ({name})"
    unknown = sorted(set(raw) - FIELDS)
    if unknown:
        raise PlansFileError(
            f"{where}: unknown field {unknown[0]!r}; a plan has {', '.join(sorted(FIELDS))}."
        )
    kind = raw.get("kind")
    if kind not in PlanKind.values:
        raise PlansFileError(f"{where}.kind must be prepaid or flat, not {kind!r}.")
    default = raw.get("default", False)
    if not isinstance(default, bool):
        raise PlansFileError(f"{where}.default must be true or false, not {default!r}.")
    if kind == PlanKind.PREPAID:
        for field in ("monthly_fee_usd", "included_usd", "overage"):
            if raw.get(field) is not None:
                raise PlansFileError(
                    f"{where}.{field}: a prepaid plan has no fee, included usage or "
                    "overage; remove it, or make the plan kind: flat."
                )
        return PlanSpec(name=name, kind=kind, is_default=default)
    overage = raw.get("overage", Overage.BILL)
    if overage not in Overage.values:
        raise PlansFileError(f"{where}.overage must be bill or cap, not {overage!r}.")
    return PlanSpec(
        name=name,
        kind=kind,
        is_default=default,
        monthly_fee_pico=_usd(raw, "monthly_fee_usd", where),
        included_pico=_usd(raw, "included_usd", where),
        overage=overage,
    )


def _usd(raw: dict, field: str, where: str) -> int:
    value = raw.get(field, 0)
    if isinstance(value, bool) or value is None:
        raise PlansFileError(f"{where}.{field} must be an amount of USD, not {value!r}.")
    try:
        pico = usd_to_pico(value)
    except ValueError as err:
        raise PlansFileError(f"{where}.{field}: {err}.") from None
    if pico < 0:
        raise PlansFileError(f"{where}.{field} must not be negative, not {value!r}.")
    return pico


def load(path: str | Path) -> dict:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise PlansFileError(f"Cannot read the plans file {path}: {exc.strerror}.") from None
    return parse(text)
