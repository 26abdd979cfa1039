"""An invoice's lines from its inputs: one builder per kind, in the order they print.

Pure: the inputs are plain values (billing/invoices/inputs.py gathers them), so the
arithmetic is tested as functions. `credits_applied` is not here: it is added once, at
finalization (billing/invoices/review.py), from the balance of that moment.

- prepaid: one `usage` line per model; total = Σ usage (already debited from credit).
- BYOK (records served by the organization's own provider key): their cost is not on the
  `usage` lines (a model with only BYOK records has none); one `byok_fee` line per model
  carries the fees charged instead (billing.byok). The plan's `included` covers usage only.
- flat: `plan_fee` (the fee of the plan in force at the period's start), the `usage`
  lines, `included` = −min(flat usage, included of the last flat plan of the period), a
  `proration` line per upgrade taken at once; total = fee + max(0, usage − included).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from accounts.money import format_usd
from billing.models import LineKind, PlanKind
from billing.plans import Segment


@dataclass(frozen=True, slots=True)
class ModelUsage:
    cost_pico: int
    tokens: int
    debited_pico: int  # what prepaid credit paid when it was recorded (fees included)
    byok_cost_pico: int = 0  # of the cost, that of BYOK records (charged their fee instead)
    fee_pico: int = 0  # the fees charged on the BYOK records
    debited_fee_pico: int = 0  # of debited_pico, what paid fees

    @property
    def usage_pico(self) -> int:
        """The cost charged as usage: that of the non-BYOK records."""
        return self.cost_pico - self.byok_cost_pico


@dataclass(frozen=True, slots=True)
class Carried:
    """Late usage of an earlier, frozen period, billed on this invoice."""

    period: str
    cost_pico: int
    debited_pico: int


@dataclass(frozen=True, slots=True)
class Note:
    """A credit note of an earlier invoice, given back on this one."""

    note_id: int
    invoice_label: str
    amount_pico: int
    reason: str


@dataclass(slots=True)
class Inputs:
    period: str
    start: datetime
    end: datetime
    segments: list[Segment]
    usage: dict[str, ModelUsage] = field(default_factory=dict)
    carried: list[Carried] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def usage_pico(self) -> int:
        """Σ the cost of the non-BYOK records (the usage lines)."""
        return sum(u.usage_pico for u in self.usage.values())

    @property
    def fee_pico(self) -> int:
        """Σ the BYOK fees (the byok_fee lines)."""
        return sum(u.fee_pico for u in self.usage.values())

    @property
    def debited_pico(self) -> int:
        """Σ what credit paid: usage and fees."""
        return sum(u.debited_pico for u in self.usage.values())

    @property
    def debited_fee_pico(self) -> int:
        return sum(u.debited_fee_pico for u in self.usage.values())

    @property
    def paid_from_credit_pico(self) -> int:
        return self.debited_pico + sum(c.debited_pico for c in self.carried)


@dataclass(frozen=True, slots=True)
class Line:
    kind: str
    description: str
    amount_pico: int
    model: str = ""
    quantity: int = 1
    covers_period: str = ""


def plan_fee(inputs: Inputs) -> list[Line]:
    first = inputs.segments[0].terms
    if first.kind != PlanKind.FLAT or not first.monthly_fee_pico:
        return []
    return [Line(LineKind.PLAN_FEE, f"{first.name} plan, {inputs.period}", first.monthly_fee_pico)]


def usage(inputs: Inputs) -> list[Line]:
    return [
        Line(
            LineKind.USAGE, f"Usage of {model} ({u.tokens:,} tokens)", u.usage_pico, model, u.tokens
        )
        for model, u in sorted(inputs.usage.items())
        if u.usage_pico or not (u.byok_cost_pico or u.fee_pico)  # BYOK only: no usage line
    ]


def byok_fee(inputs: Inputs) -> list[Line]:
    return [
        Line(
            LineKind.BYOK_FEE,
            f"BYOK fee on {model} (on {format_usd(u.byok_cost_pico)} at its prices)",
            u.fee_pico,
            model,
        )
        for model, u in sorted(inputs.usage.items())
        if u.fee_pico
    ]


def included(inputs: Inputs) -> list[Line]:
    flat = [s.terms for s in inputs.segments if s.terms.kind == PlanKind.FLAT]
    if not flat or not flat[-1].included_pico:
        return []
    # What credit did not pay of the usage (fees are not covered by the plan).
    flat_usage = inputs.usage_pico - (inputs.debited_pico - inputs.debited_fee_pico)
    amount = min(max(flat_usage, 0), flat[-1].included_pico)
    if not amount:
        return []
    return [Line(LineKind.INCLUDED, f"Included in the {flat[-1].name} plan", -amount)]


def proration(inputs: Inputs) -> list[Line]:
    """An upgrade taken at t: (fee_new − fee_old) × (end − t) // (end − start), in whole
    seconds, floored."""
    lines = []
    span = int((inputs.end - inputs.start).total_seconds())
    for before, seg in zip(inputs.segments, inputs.segments[1:], strict=False):
        if not seg.prorated:
            continue
        old = before.terms.monthly_fee_pico if before.terms.kind == PlanKind.FLAT else 0
        new = seg.terms.monthly_fee_pico if seg.terms.kind == PlanKind.FLAT else 0
        rest = int((inputs.end - seg.start).total_seconds())
        amount = (new - old) * rest // span
        if amount:
            lines.append(
                Line(
                    LineKind.PRORATION,
                    f"{before.terms.name} → {seg.terms.name} on {seg.start:%Y-%m-%d %H:%M} UTC, prorated",
                    amount,
                )
            )
    return lines


def adjustment(inputs: Inputs) -> list[Line]:
    return [
        Line(
            LineKind.ADJUSTMENT,
            f"Usage of {c.period} recorded after its invoice was closed",
            c.cost_pico,
            covers_period=c.period,
        )
        for c in inputs.carried
        if c.cost_pico or c.debited_pico
    ]


def credit_note(inputs: Inputs) -> list[Line]:
    return [
        Line(LineKind.CREDIT_NOTE, f"Credit note on {n.invoice_label}: {n.reason}", -n.amount_pico)
        for n in inputs.notes
    ]


# The builders by kind, in the order the lines print.
BUILDERS: dict[str, Callable[[Inputs], list[Line]]] = {
    LineKind.PLAN_FEE: plan_fee,
    LineKind.USAGE: usage,
    LineKind.BYOK_FEE: byok_fee,
    LineKind.INCLUDED: included,
    LineKind.PRORATION: proration,
    LineKind.ADJUSTMENT: adjustment,
    LineKind.CREDIT_NOTE: credit_note,
}


def lines_build(inputs: Inputs) -> list[Line]:
    return [line for build in BUILDERS.values() for line in build(inputs)]
