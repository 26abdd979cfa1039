"""What each key spent in its budget's current period, for the keys pages.

A total budget's spend is on the key (APIKey.spent_pico); a budget by day, week or month
is counted by billing (billing.spend_counters), which accounts, the lowest layer, cannot
read. billing registers a reader at start (billing.apps.BillingConfig.ready), as proxy
does for the model catalog.
"""

from collections.abc import Callable, Sequence

from accounts.models import APIKey, BudgetPeriod

# keys → {key id: pico-USD spent in the current period of the key's budget}
Reader = Callable[[Sequence[APIKey]], dict[int, int]]

_reader: Reader | None = None


def set_reader(fn: Reader | None) -> None:
    global _reader
    _reader = fn


def attach(keys: Sequence[APIKey]) -> Sequence[APIKey]:
    """Sets `budget_used_pico` on each key with a day, week or month budget, in one read;
    `keys` returned, for use in a view's context."""
    periodic = [
        k for k in keys if k.budget_pico is not None and k.budget_period != BudgetPeriod.TOTAL
    ]
    spent = _reader(periodic) if periodic and _reader is not None else {}
    for key in periodic:
        key.period_spent_pico = spent.get(key.pk, 0)
    return keys
