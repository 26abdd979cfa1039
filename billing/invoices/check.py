"""The reconciliation check of an invoice: its usage lines against the rollups, the raw
usage records and, for prepaid usage, the ledger's usage debits of the period; likewise
its byok_fee lines, and the ledger's byok_fee debits. Stored on
the invoice (check_status, check_details) and shown on the review pages."""

from dataclasses import dataclass

from billing.models import CheckStatus


@dataclass(frozen=True, slots=True)
class Figures:
    lines_usage: int  # Σ usage lines
    rollups: int  # Σ rollup cost of the period's non-BYOK records
    raw: int  # Σ cost of the period's non-BYOK usage records
    rollups_debited: int  # Σ rollup debited_pico (usage and fees)
    raw_debited: int  # Σ what a debit paid of the records (cost, or fee when BYOK)
    ledger: int  # −Σ the ledger's usage and byok_fee debits of the period
    total: int  # the invoice's total
    lines_sum: int  # Σ every line
    lines_fee: int = 0  # Σ byok_fee lines
    rollups_fee: int = 0  # Σ rollup fee_pico
    raw_fee: int = 0  # Σ fee of the period's BYOK records
    rollups_debited_fee: int = 0  # Σ rollup debited_fee_pico
    raw_debited_fee: int = 0  # Σ fee of the BYOK records a debit paid
    ledger_fee: int = 0  # −Σ the ledger's byok_fee debits of the period


def check_run(figures: Figures) -> tuple[str, dict]:
    """(status, details): ok when every pair agrees to the pico; details hold each
    figure as a pico string and, on a mismatch, a sentence per disagreement."""
    f = figures
    problems = []
    if not f.lines_usage == f.rollups == f.raw:
        problems.append(
            f"The usage lines ({f.lines_usage}), the rollups ({f.rollups}) and the raw usage "
            f"records ({f.raw}) do not agree; run `manage.py reconcile` for this period."
        )
    if not f.rollups_debited == f.raw_debited == f.ledger:
        problems.append(
            f"The prepaid usage in the rollups ({f.rollups_debited}), in the records "
            f"({f.raw_debited}) and the ledger's usage debits ({f.ledger}) do not agree."
        )
    if not f.lines_fee == f.rollups_fee == f.raw_fee:
        problems.append(
            f"The BYOK fee lines ({f.lines_fee}), the rollups ({f.rollups_fee}) and the raw "
            f"usage records ({f.raw_fee}) do not agree; run `manage.py reconcile` for this period."
        )
    if not f.rollups_debited_fee == f.raw_debited_fee == f.ledger_fee:
        problems.append(
            f"The prepaid BYOK fees in the rollups ({f.rollups_debited_fee}), in the records "
            f"({f.raw_debited_fee}) and the ledger's byok_fee debits ({f.ledger_fee}) do not agree."
        )
    if f.total != f.lines_sum:
        problems.append(f"The total ({f.total}) is not the sum of the lines ({f.lines_sum}).")
    details = {
        "lines_usage_pico": str(f.lines_usage),
        "rollups_pico": str(f.rollups),
        "raw_pico": str(f.raw),
        "rollups_debited_pico": str(f.rollups_debited),
        "raw_debited_pico": str(f.raw_debited),
        "ledger_pico": str(f.ledger),
        "total_pico": str(f.total),
        "lines_sum_pico": str(f.lines_sum),
        "lines_fee_pico": str(f.lines_fee),
        "rollups_fee_pico": str(f.rollups_fee),
        "raw_fee_pico": str(f.raw_fee),
        "rollups_debited_fee_pico": str(f.rollups_debited_fee),
        "raw_debited_fee_pico": str(f.raw_debited_fee),
        "ledger_fee_pico": str(f.ledger_fee),
        "problems": problems,
    }
    return (CheckStatus.MISMATCH if problems else CheckStatus.OK), details
