"""The audit log of billing actions: every staff or owner action writes one row."""

from typing import Any

from accounts.models import Organization, User
from billing.models import BillingAudit


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: str,
    organization: Organization | None = None,
    before: Any = None,
    after: Any = None,
    reason: str = "",
) -> BillingAudit:
    """Writes one immutable audit row: who (`actor`, None for the system), what
    (`action`, e.g. "invoice_finalize"), on what (`target`, e.g. "invoice:12"), the state
    before and after (JSON-able values) and why. Call it in the transaction of the action,
    so the row exists exactly when the action does."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None  # AnonymousUser: the action was the system's
    return BillingAudit.objects.create(
        actor=actor,
        organization=organization,
        action=action[:40],
        target=target[:80],
        before=before,
        after=after,
        reason=(reason or "")[:300],
    )
