"""Holds in this process's memory: the embedded mode, with one web process.

A credit pot keeps the balance as the ledger has it, what requests in flight hold, and
what settled requests cost that the ledger has not debited yet ("unposted"); available is
balance − held − unposted. The ledger's commits in this process arrive through
`ledger_changed` (an exact, incremental update); entries committed elsewhere (a Celery
task, `manage.py grantcredits`) are picked up by reading the ledger's new entries at most
every PROXY_BALANCE_TTL_S, in the background. Budget and cap pots count what was spent in
their period; only this process spends, so they need no refresh.
"""

import asyncio
import threading
import time
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from django.conf import settings

from billing.holds import CREDIT, Hold, NotEnough, Pot, load_async
from billing.models import CreditLedgerEntry, LedgerKind


@dataclass
class _Credit:
    balance: int
    last_entry_id: int
    held: int = 0
    unposted: int = 0
    applied: set[int] = field(default_factory=set)  # entry ids above last_entry_id seen
    checked_at: float = field(default_factory=time.monotonic)
    refreshing: bool = False

    @property
    def available(self) -> int:
        return self.balance - self.held - self.unposted


def _load_credit(pot: Pot) -> _Credit:
    last = (
        CreditLedgerEntry.objects.filter(organization_id=pot.subject_id)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return _Credit(balance=pot.load(), last_entry_id=last or 0)


def _new_entries(organization_id: int, after_id: int) -> list[tuple[int, int, str]]:
    return list(
        CreditLedgerEntry.objects.filter(organization_id=organization_id, id__gt=after_id)
        .order_by("id")
        .values_list("id", "amount_pico", "kind")
    )


class LocalHolds:
    def __init__(self) -> None:
        self.lock = threading.Lock()  # the usage writer's thread reports commits too
        self.credits: dict[int, _Credit] = {}
        self.used: dict[str, int] = {}  # budget and cap pots: spent in the period + held
        self.tasks: set[asyncio.Task] = set()

    async def _ensure(self, pots: tuple[Pot, ...]) -> None:
        for pot in pots:
            if pot.kind == CREDIT:
                credit = self.credits.get(pot.subject_id)
                if credit is None:
                    loaded = await database_sync_to_async(_load_credit)(pot)
                    with self.lock:
                        self.credits.setdefault(pot.subject_id, loaded)
                elif time.monotonic() - credit.checked_at > settings.PROXY_BALANCE_TTL_S:
                    self._refresh_soon(pot.subject_id, credit)
            elif pot.name not in self.used:
                spent = await load_async(pot)
                with self.lock:
                    self.used.setdefault(pot.name, spent)

    def _refresh_soon(self, organization_id: int, credit: _Credit) -> None:
        if credit.refreshing:
            return
        credit.refreshing = True
        task = asyncio.get_running_loop().create_task(self._refresh(organization_id, credit))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _refresh(self, organization_id: int, credit: _Credit) -> None:
        try:
            entries = await database_sync_to_async(_new_entries)(
                organization_id, credit.last_entry_id
            )
            for entry_id, amount, kind in entries:
                self.ledger_changed(
                    organization_id,
                    entry_id,
                    amount,
                    usage=kind in (LedgerKind.USAGE, LedgerKind.BYOK_FEE),
                )
            with self.lock:
                if entries:
                    credit.last_entry_id = max(credit.last_entry_id, entries[-1][0])
                    credit.applied = {i for i in credit.applied if i > credit.last_entry_id}
        finally:
            credit.checked_at = time.monotonic()
            credit.refreshing = False

    async def reserve(self, pots: tuple[Pot, ...], amount: int) -> Hold:
        await self._ensure(pots)
        with self.lock:
            for pot in pots:
                if pot.kind == CREDIT:
                    left = self.credits[pot.subject_id].available
                    if left <= 0 or left < amount:
                        raise NotEnough(pot, amount, left)
                else:
                    left = pot.limit - self.used[pot.name]
                    if left < amount or left <= 0:
                        raise NotEnough(pot, amount, left)
            for pot in pots:
                if pot.kind == CREDIT:
                    self.credits[pot.subject_id].held += amount
                else:
                    self.used[pot.name] += amount
        return Hold(pots, amount)

    async def settle(self, hold: Hold, cost: int) -> None:
        self.settle_now(hold, cost)

    def settle_now(self, hold: Hold, cost: int) -> bool:
        self._settle(hold, cost)
        return True

    def _settle(self, hold: Hold, cost: int) -> None:
        with self.lock:
            for pot in hold.pots:
                if pot.kind == CREDIT:
                    credit = self.credits.get(pot.subject_id)
                    if credit is not None:
                        credit.held -= hold.amount
                        credit.unposted += cost
                elif pot.name in self.used:
                    self.used[pot.name] += cost - hold.amount

    def ledger_changed(self, organization_id: int, entry_id: int, amount: int, *, usage: bool):
        with self.lock:
            credit = self.credits.get(organization_id)
            if credit is None or entry_id <= credit.last_entry_id or entry_id in credit.applied:
                return
            credit.applied.add(entry_id)
            credit.balance += amount
            if usage:  # a debit of costs already counted as unposted
                credit.unposted = max(0, credit.unposted + amount)
