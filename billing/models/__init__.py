"""billing's tables, one module per part of the money: ledger, usage, prices, plans,
rollups, invoices, payments (Stripe), audit, alerts."""

from billing.models.alerts import Alert, AlertKind
from billing.models.audit import BillingAudit
from billing.models.invoices import (
    OPEN_STATUSES,
    CheckStatus,
    CreditNote,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
)
from billing.models.ledger import CreditLedgerEntry, LedgerKind
from billing.models.payments import BillingProfile, StripeEvent, TopUp, TopUpStatus
from billing.models.plans import Overage, Plan, PlanChange, PlanKind
from billing.models.prices import ModelPrice
from billing.models.rollups import RollupDirty, UsageRollup, UsageRollupHour
from billing.models.usage import (
    SpendCounter,
    UsageBody,
    UsageQuarantine,
    UsageRecord,
    UsageStatus,
)

__all__ = [
    "OPEN_STATUSES",
    "Alert",
    "AlertKind",
    "BillingAudit",
    "BillingProfile",
    "CheckStatus",
    "CreditLedgerEntry",
    "CreditNote",
    "Invoice",
    "InvoiceCounter",
    "InvoiceLine",
    "InvoiceStatus",
    "LedgerKind",
    "LineKind",
    "ModelPrice",
    "Overage",
    "Plan",
    "PlanChange",
    "PlanKind",
    "RollupDirty",
    "SpendCounter",
    "StripeEvent",
    "TopUp",
    "TopUpStatus",
    "UsageBody",
    "UsageQuarantine",
    "UsageRecord",
    "UsageRollup",
    "UsageRollupHour",
    "UsageStatus",
]
