"""Dated model prices: a ModelPrice row gives a model's price from its `effective_from` on.

The gateway reads every model's schedule into its route table (proxy.table), so a call is
priced by the price in force when it started with no database work, and a future-dated
price takes effect at its time without a reload. A record's cost is computed once, when
its request is made: a new price never rewrites past usage or invoices."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from billing.models import ModelPrice


@dataclass(frozen=True, slots=True)
class PriceChange:
    """What a routes file or an operator asks for: the model's price from `effective_from`."""

    model: str
    effective_from: datetime
    input_price: int
    output_price: int
    cached_input_price: int | None = None
    cache_write_price: int | None = None


FIELDS = ("input_price", "output_price", "cached_input_price", "cache_write_price")


def model_price_set(*, change: PriceChange, note: str = "") -> str:
    """Creates or updates the model's price row at `effective_from`; "created",
    "updated" or "unchanged" (idempotent: the same change twice writes once)."""
    values = {name: getattr(change, name) for name in FIELDS}
    row = ModelPrice.objects.filter(
        model=change.model, effective_from=change.effective_from
    ).first()
    if row is None:
        ModelPrice.objects.create(
            model=change.model, effective_from=change.effective_from, note=note, **values
        )
        return "created"
    if all(getattr(row, k) == v for k, v in values.items()):
        return "unchanged"
    for k, v in values.items():
        setattr(row, k, v)
    row.save(update_fields=list(FIELDS))
    return "updated"


def price_schedules(*, models: Iterable[str]) -> dict[str, list[ModelPrice]]:
    """Each model's dated prices, oldest first; one query."""
    out: dict[str, list[ModelPrice]] = {}
    for row in ModelPrice.objects.filter(model__in=list(models)).order_by(
        "model", "effective_from"
    ):
        out.setdefault(row.model, []).append(row)
    return out
