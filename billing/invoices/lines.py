"""An invoice's lines from its inputs: one builder per kind, in the order they print.

Pure: the inputs are plain values (billing/invoices/inputs.py gathers them), so the
arithmetic is tested as functions. `credits_applied` is not here: it is added once, at
finalization (billing/invoices/review.py), from the balance of that moment.

- prepaid: one `usage` line per model; total = Σ usage (already debited from credit).
- flat: `plan_fee` (the fee of the plan in force at the period's start), the `usage`
  lines, `included` = −min(flat usage, included of the last flat plan of the period), a
  `proration` line per upgrade taken at once; total = fee + max(0, usage − included).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from billing.models import LineKind, PlanKind
from billing.plans import Segment


@dataclass(frozen=True, slots=True)
class ModelUsage:
    cost_pico: int
    tokens: int
    debited_pico: int  # of the cost, what prepaid credit paid when it was recorded


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
        return sum(u.cost_pico for u in self.usage.values())

    @property
    def debited_pico(self) -> int:
        return sum(u.debited_pico for u in self.usage.values())

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
            LineKind.USAGE, f"Usage of {model} ({u.tokens:,} tokens)", u.cost_pico, model, u.tokens
        )
        for model, u in sorted(inputs.usage.items())
    ]


def included(inputs: Inputs) -> list[Line]:
    flat = [s.terms for s in inputs.segments if s.terms.kind == PlanKind.FLAT]
    if not flat or not flat[-1].included_pico:
        return []
    flat_usage = inputs.usage_pico - inputs.debited_pico  # what credit did not pay
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
    LineKind.INCLUDED: included,
    LineKind.PRORATION: proration,
    LineKind.ADJUSTMENT: adjustment,
    LineKind.CREDIT_NOTE: credit_note,
}


def lines_build(inputs: Inputs) -> list[Line]:
    return [line for build in BUILDERS.values() for line in build(inputs)]
