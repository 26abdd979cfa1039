"""Money reserved before serving: a request's worst-case cost is held, atomically, against
its organization's credit and every budget that applies, then settled to the exact cost.

The pots a request draws on (`pots_for`):
- the organization's credit: what is available is the balance less what requests in
  flight hold and what finished requests cost that the ledger has not debited yet;
- the key's budget for its period (total, or the UTC day, week from Monday, month);
- the organization's monthly spend cap;
- a capped flat plan's included usage for the month (PLAN_CAP: the 402 `plan_cap`).
A flat plan's usage is invoiced, not paid from credit: its requests hold nothing against
credit (`prepaid=False`).
A request served by the organization's own provider key (BYOK, `reserve(..., byok=True)`)
is charged a fee, not its cost: the credit and plan-cap pots hold and settle the fee of
the amount (billing.byok.fee_pico), the key's budget and the organization's cap the
amount itself (they govern what the organization spends at its declared prices).
`reserve()` holds `amount` in all of them or in none (NotEnough names the pot that is
short); `settle()` replaces the hold by the exact cost. So the sum of what is held never
exceeds what is available, whatever the number of processes.

Two backends, chosen by REDIS_URL: one Lua script per call over Redis hashes, shared by
every process (billing.holds_redis); or this process's memory, kept consistent with the
ledger (billing.holds_local). Both start a pot from the database the first time it is
used: the balance, or the spend counter of the period (billing.spend_counters).

A hold whose process dies before settling stays held until the pot is reloaded: credit is
then under-stated, never over-stated.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from channels.db import database_sync_to_async
from django.conf import settings

from accounts.models import APIKey, Organization
from billing import spend_counters
from billing.byok import fee_pico

log = logging.getLogger(__name__)

CREDIT = "credit"
KEY_BUDGET = "key_budget"
ORG_CAP = "org_cap"
PLAN_CAP = "plan_cap"
# The pots of what the organization is charged (a BYOK request's fee), not of its cost.
CHARGED_KINDS = frozenset({CREDIT, PLAN_CAP})


@dataclass(frozen=True, slots=True)
class Pot:
    """One thing a request's cost is held against."""

    kind: str  # CREDIT, KEY_BUDGET, ORG_CAP or PLAN_CAP
    subject_id: int  # the organization's id (credit, cap) or the key's (budget)
    period: str = spend_counters.TOTAL  # a spend_counters period id
    limit: int | None = None  # pico-USD, for budgets and caps
    budget_period: str = "total"  # what the key's budget says (for messages)
    resets_at: datetime | None = None

    @property
    def name(self) -> str:
        if self.kind == CREDIT:
            return f"credit:{self.subject_id}"
        return f"{self.kind}:{self.subject_id}:{self.period}"

    def load(self) -> int:
        """From the database: the balance, or what was spent in the period so far."""
        if self.kind == CREDIT:
            return (
                Organization.objects.filter(pk=self.subject_id)
                .values_list("credit_balance_pico", flat=True)
                .first()
                or 0
            )
        if self.kind == KEY_BUDGET:
            if self.period == spend_counters.TOTAL:
                return (
                    APIKey.objects.filter(pk=self.subject_id)
                    .values_list("spent_pico", flat=True)
                    .first()
                    or 0
                )
            return spend_counters.spent(spend_counters.key_subject(self.subject_id), self.period)
        # ORG_CAP and PLAN_CAP: what the organization spent in the month so far.
        return spend_counters.spent(spend_counters.org_subject(self.subject_id), self.period)


class NotEnough(Exception):
    """A pot cannot hold the amount: `left` is what it could still hold (≥ 0)."""

    def __init__(self, pot: Pot, needed: int, left: int) -> None:
        super().__init__(pot.name)
        self.pot, self.needed, self.left = pot, needed, max(0, left)


@dataclass(slots=True)
class Hold:
    pots: tuple[Pot, ...]
    amount: int
    tokens: tuple = field(default=())  # the backend's per-pot marks (Redis: load epochs)
    settled: bool = False
    # A BYOK request's two holds: (fee against CHARGED_KINDS, cost against the others),
    # either None when no pot of its kind applies. Empty for any other request.
    parts: tuple = field(default=())


def pots_for(
    *,
    organization_id: int,
    key_id: int,
    budget_pico: int | None,
    budget_period: str,
    monthly_cap_pico: int | None,
    now: datetime,
    prepaid: bool = True,
    plan_cap_pico: int | None = None,
) -> tuple[Pot, ...]:
    """The pots of one request: credit when its plan is prepaid, the key's budget, the
    organization's cap, and a capped plan's included usage (`plan_cap_pico`)."""
    pots = [Pot(CREDIT, organization_id)] if prepaid else []
    if budget_pico is not None:
        pots.append(
            Pot(
                KEY_BUDGET,
                key_id,
                spend_counters.period_id(budget_period, now),
                budget_pico,
                budget_period,
                spend_counters.resets_at(budget_period, now),
            )
        )
    if monthly_cap_pico is not None:
        pots.append(
            Pot(
                ORG_CAP,
                organization_id,
                spend_counters.period_id("month", now),
                monthly_cap_pico,
                "month",
                spend_counters.resets_at("month", now),
            )
        )
    if plan_cap_pico is not None:
        pots.append(
            Pot(
                PLAN_CAP,
                organization_id,
                spend_counters.period_id("month", now),
                plan_cap_pico,
                "month",
                spend_counters.resets_at("month", now),
            )
        )
    return tuple(pots)


load_async = database_sync_to_async(lambda pot: pot.load())


_backend = None


def backend():
    global _backend
    if _backend is None:
        if settings.REDIS_URL:
            from billing.holds_leases import LeasingRedisHolds

            _backend = LeasingRedisHolds()
        else:
            from billing.holds_local import LocalHolds

            _backend = LocalHolds()
    return _backend


async def reserve(pots: tuple[Pot, ...], amount: int, *, byok: bool = False) -> Hold:
    """Holds `amount` pico-USD in every pot, or raises NotEnough and holds nothing. With
    `byok`, the credit and plan-cap pots hold fee_pico(amount) instead."""
    amount = max(0, amount)
    if not byok:
        return await backend().reserve(pots, amount)
    charged = tuple(p for p in pots if p.kind in CHARGED_KINDS)
    counted = tuple(p for p in pots if p.kind not in CHARGED_KINDS)
    fee_hold = await backend().reserve(charged, fee_pico(amount)) if charged else None
    try:
        cost_hold = await backend().reserve(counted, amount) if counted else None
    except NotEnough:
        if fee_hold is not None:
            await settle(fee_hold, 0)
        raise
    return Hold(pots, amount, parts=(fee_hold, cost_hold))


def _parts(hold: Hold, cost: int) -> list[tuple[Hold, int]]:
    """A BYOK hold's parts with what each settles to: the fee, and the cost."""
    fee_hold, cost_hold = hold.parts
    pairs = [(fee_hold, fee_pico(cost)), (cost_hold, cost)]
    return [(h, c) for h, c in pairs if h is not None]


async def settle(hold: Hold, cost: int) -> None:
    """Replaces the hold by the exact cost (0 releases it); once per hold. A BYOK hold's
    credit and plan-cap pots settle to the fee of the cost."""
    if hold.settled:
        return
    hold.settled = True
    if hold.parts:
        for part, amount in _parts(hold, max(0, cost)):
            await settle(part, amount)
        return
    await backend().settle(hold, max(0, cost))


def settle_now(hold: Hold, cost: int) -> bool:
    """Settles at once when the backend needs no round trip (this process's memory);
    False when the caller must await settle()."""
    if hold.settled:
        return True
    if hold.parts:
        done = all([settle_now(part, amount) for part, amount in _parts(hold, max(0, cost))])
        hold.settled = done
        return done
    if not backend().settle_now(hold, max(0, cost)):
        return False
    hold.settled = True
    return True


def ledger_changed(organization_id: int, entry_id: int, amount: int, *, usage: bool) -> None:
    """Called once a ledger entry is committed (billing.services.credits_apply)."""
    if _backend is None and not settings.REDIS_URL:
        return
    try:
        backend().ledger_changed(organization_id, entry_id, amount, usage=usage)
    except Exception:  # after the commit: the entry stands; the pot reloads in time
        log.exception("Holds did not hear of ledger entry %s.", entry_id)


async def give_back() -> None:
    """At shutdown: what this process's credit leases have not spent goes back."""
    if _backend is not None and hasattr(_backend, "give_back"):
        await _backend.give_back()


def forget() -> None:
    """Drops this process's pots (tests); Redis keeps its own."""
    global _backend
    _backend = None
