"""What a request may cost at most, held before it is relayed; the contract's 402 when
its organization's credit, its key's budget, its organization's cap or its capped plan's
included usage cannot hold it.

The worst case is the input estimate at the input price plus the most output the request
allows (max_tokens and its cousins, else PROXY_DEFAULT_MAX_OUTPUT_TOKENS) at the output
price. The estimate is a quarter of the body's bytes: above what most text costs, and
cheap to take on the hot path (no parse beyond what routing did).
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from accounts.money import format_usd
from billing import holds
from proxy.auth import KeyInfo
from proxy.table import ModelEntry
from proxy.translate.errors import ProxyError

log = logging.getLogger(__name__)

OUTPUT_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens")
NO_OUTPUT_ENDPOINTS = frozenset({"embeddings", "count_tokens"})
ADJECTIVE = {"day": "daily ", "week": "weekly ", "month": "monthly "}
_settling: set[asyncio.Task] = set()


def max_output_tokens(endpoint: str, body: dict) -> int:
    if endpoint in NO_OUTPUT_ENDPOINTS:
        return 0
    for name in OUTPUT_FIELDS:
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return settings.PROXY_DEFAULT_MAX_OUTPUT_TOKENS


def input_estimate(body_size: int) -> int:
    return body_size // 4 + 1


def worst_case_pico(
    model: ModelEntry, input_tokens: int, output_tokens: int, at: float | None = None
) -> int:
    """Prices are micro-USD per million tokens: one token at price p costs p pico-USD.
    At the prices in force now (or at POSIX time `at`); every input token may be of the
    dearest kind of input (a cache write, where the model's upstreams report them)."""
    prices = model.price_at(time.time() if at is None else at)
    dearest = prices.dearest_input(cache_writes=model.cache_writes)
    return input_tokens * dearest + output_tokens * prices.output


@dataclass(frozen=True, slots=True)
class WorstCase:
    """The most a request may use: its tokens (for TPM) and their cost."""

    input_tokens: int
    output_tokens: int
    pico: int
    # Served by the organization's own provider key: credit and a plan cap hold the fee of
    # `pico` (billing.byok), the key's budget and the organization's cap `pico` itself.
    byok: bool = False

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def worst_case(model: ModelEntry, endpoint: str, body: dict, body_size: int) -> WorstCase:
    output = max_output_tokens(endpoint, body)
    estimate = input_estimate(body_size)
    return WorstCase(estimate, output, worst_case_pico(model, estimate, output), model.byok)


async def reserve(key: KeyInfo, worst: WorstCase) -> holds.Hold | None:
    """Holds the worst case against every pot of the key; the contract's 402 if one is
    short. None when nothing applies (a flat plan's usage, invoiced, with no budget)."""
    plan = key.plan
    pots = holds.pots_for(
        organization_id=key.organization_id,
        key_id=key.key_id,
        budget_pico=key.budget_pico,
        budget_period=key.budget_period,
        monthly_cap_pico=key.org_monthly_cap_pico,
        now=timezone.now(),
        prepaid=plan.prepaid,
        plan_cap_pico=plan.included_pico if plan.capped else None,
    )
    if not pots:
        return None
    try:
        return await holds.reserve(pots, worst.pico, byok=worst.byok)
    except holds.NotEnough as short:
        raise refusal(short, worst.output_tokens) from None


def settle_soon(hold: holds.Hold | None, cost_pico: int) -> None:
    """Settles at once in memory, else off the answer's path (the task is kept until it
    is done; a failure is logged: the hold then stays until its pot reloads)."""
    if hold is None or holds.settle_now(hold, cost_pico):
        return
    task = asyncio.get_running_loop().create_task(holds.settle(hold, cost_pico))
    _settling.add(task)
    task.add_done_callback(_settled)


def _settled(task: asyncio.Task) -> None:
    _settling.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning("A hold could not be settled: %s", task.exception())


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else ""


def refusal(short: holds.NotEnough, output_tokens: int) -> ProxyError:
    pot, needed = short.pot, format_usd(short.needed)
    if pot.kind == holds.CREDIT:
        return ProxyError(
            402,
            f"Your organization's credit does not cover this request: it may cost up to "
            f"{needed} ({output_tokens} output tokens at most) and {format_usd(short.left)} "
            "is available. Add credits in the portal (Billing), or lower max_tokens.",
            type="insufficient_quota",
            code="insufficient_credits",
        )
    if pot.kind == holds.KEY_BUDGET:
        resets = (
            f"It resets at {_when(pot.resets_at)}."
            if pot.resets_at
            else "It does not reset: raise it in the portal (Keys) or use another key."
        )
        return ProxyError(
            402,
            f"This key's {ADJECTIVE.get(pot.budget_period, '')}budget of {format_usd(pot.limit)} cannot cover this request (up to {needed}; "
            f"{format_usd(short.left)} left). {resets}",
            type="insufficient_quota",
            code="key_budget_exceeded",
        )
    if pot.kind == holds.PLAN_CAP:
        return ProxyError(
            402,
            f"Your organization's plan includes {format_usd(pot.limit)} of usage a month and "
            f"stops there: this request may cost up to {needed} and {format_usd(short.left)} "
            f"is left. It resets at {_when(pot.resets_at)}; to go on now, upgrade the plan "
            "in the portal (Billing), or wait.",
            type="insufficient_quota",
            code="plan_cap",
        )
    return ProxyError(
        402,
        f"Your organization's monthly spend cap of {format_usd(pot.limit)} cannot cover this "
        f"request (up to {needed}; {format_usd(short.left)} left). It resets at "
        f"{_when(pot.resets_at)}; an admin can raise it.",
        type="insufficient_quota",
        code="org_spend_cap",
    )
