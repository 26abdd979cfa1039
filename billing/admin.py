from django.contrib import admin

from accounts.admin_money import MoneyAdmin, MoneyTabularInline
from billing.models import (
    Alert,
    BillingAudit,
    BillingProfile,
    CreditLedgerEntry,
    CreditNote,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    Plan,
    PlanChange,
    RollupDirty,
    SpendCounter,
    StripeEvent,
    TopUp,
    UsageQuarantine,
    UsageRecord,
    UsageRollup,
    UsageRollupHour,
)


@admin.register(CreditLedgerEntry)
class CreditLedgerEntryAdmin(MoneyAdmin):
    list_display = ["organization", "kind", "amount_pico", "reason", "created_at"]
    list_filter = ["kind"]
    search_fields = ["organization__slug", "reason"]

    # Entries are immutable: add grants with `manage.py grantcredits`.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UsageRecord)
class UsageRecordAdmin(MoneyAdmin):
    list_display = ["request_id", "organization", "model", "status", "input_tokens",
                    "output_tokens", "cost_pico", "latency_ms", "created_at"]  # fmt: skip
    list_filter = ["status", "endpoint", "streamed", "flagged"]
    search_fields = ["request_id", "organization__slug", "model"]
    date_hierarchy = "created_at"

    # Usage is what happened: written by the proxy only.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(MoneyAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UsageQuarantine)
class UsageQuarantineAdmin(ReadOnlyAdmin):
    """Events the database refused; the rest of their batch was written. Deleting one
    after looking into it is allowed."""

    list_display = ["request_id", "error", "created_at"]
    search_fields = ["request_id", "error"]
    date_hierarchy = "created_at"


@admin.register(SpendCounter)
class SpendCounterAdmin(ReadOnlyAdmin):
    list_display = ["subject", "period", "spent_pico"]
    search_fields = ["subject"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alert)
class AlertAdmin(MoneyAdmin):
    list_display = ["organization", "kind", "message", "created_at", "emailed_at", "resolved_at"]
    list_filter = ["kind"]
    search_fields = ["organization__slug"]


# --- issue 11: plans, rollups, invoices, payments, audit ---------------------------------
# Money moves through the services (plans_file/setplan, reconcile, the staff review at
# /staff/billing/, Stripe's webhooks), each audited; here the rows are read, not edited.
# ModelPrice is registered with the routes in proxy/admin.py.


class FrozenAdmin(ReadOnlyAdmin):
    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class InvoiceLineInline(MoneyTabularInline):
    model = InvoiceLine
    fields = ["position", "kind", "description", "model", "quantity", "amount_pico",
              "covers_period"]  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(FrozenAdmin):
    list_display = ["__str__", "organization", "period", "plan", "status", "total_pico",
                    "paid_from_credit_pico", "check_status", "finalized_at"]  # fmt: skip
    list_filter = ["status", "check_status", "period"]
    search_fields = ["number", "organization__slug"]
    list_select_related = ["organization"]
    inlines = [InvoiceLineInline]


@admin.register(InvoiceLine)
class InvoiceLineAdmin(FrozenAdmin):
    list_display = ["invoice", "position", "kind", "model", "quantity", "amount_pico"]
    list_filter = ["kind"]
    search_fields = ["invoice__number", "model"]
    list_select_related = ["invoice"]


@admin.register(InvoiceCounter)
class InvoiceCounterAdmin(FrozenAdmin):
    list_display = ["name", "last"]


@admin.register(CreditNote)
class CreditNoteAdmin(FrozenAdmin):
    list_display = ["invoice", "amount_pico", "reason", "applied_to", "created_by", "created_at"]
    search_fields = ["invoice__number", "reason"]


@admin.register(BillingAudit)
class BillingAuditAdmin(FrozenAdmin):
    list_display = ["created_at", "actor", "action", "target", "organization", "reason"]
    list_filter = ["action"]
    search_fields = ["target", "reason", "actor__email", "organization__slug"]
    date_hierarchy = "created_at"
    list_select_related = ["actor", "organization"]


@admin.register(TopUp)
class TopUpAdmin(FrozenAdmin):
    list_display = ["organization", "amount_pico", "kind", "status", "refunded_pico",
                    "created_at", "paid_at"]  # fmt: skip
    list_filter = ["status", "kind"]
    search_fields = ["organization__slug", "checkout_session_id", "payment_intent_id"]


@admin.register(StripeEvent)
class StripeEventAdmin(FrozenAdmin):
    list_display = ["event_id", "type", "received_at", "processed_at", "error"]
    list_filter = ["type"]
    search_fields = ["event_id"]


@admin.register(BillingProfile)
class BillingProfileAdmin(FrozenAdmin):
    list_display = ["organization", "stripe_customer_id", "autoreload_enabled",
                    "autoreload_threshold_pico", "autoreload_target_pico"]  # fmt: skip
    search_fields = ["organization__slug", "stripe_customer_id"]


@admin.register(Plan)
class PlanAdmin(FrozenAdmin):
    """Plans come from the plans file (`loadplans`), so the file stays the truth."""

    list_display = ["name", "kind", "is_default", "monthly_fee_pico", "included_pico",
                    "overage", "is_active"]  # fmt: skip
    list_filter = ["kind", "is_active"]


@admin.register(PlanChange)
class PlanChangeAdmin(FrozenAdmin):
    """Changed with `setplan` or the billing page, which audit each change."""

    list_display = ["organization", "plan", "effective_at", "prorated", "created_by"]
    search_fields = ["organization__slug"]
    list_select_related = ["organization", "plan"]


@admin.register(UsageRollup)
class UsageRollupAdmin(FrozenAdmin):
    list_display = ["organization", "day", "key_id", "model", "requests", "input_tokens",
                    "output_tokens", "cost_pico"]  # fmt: skip
    list_filter = ["day"]
    search_fields = ["organization__slug", "model"]


@admin.register(UsageRollupHour)
class UsageRollupHourAdmin(FrozenAdmin):
    list_display = ["organization", "hour", "key_id", "model", "requests", "input_tokens",
                    "output_tokens", "cost_pico"]  # fmt: skip
    list_filter = ["hour"]
    search_fields = ["organization__slug", "model"]


# UsageBody is not registered: customers' prompts are not for browsing in the admin.


@admin.register(RollupDirty)
class RollupDirtyAdmin(FrozenAdmin):
    list_display = ["organization_id", "day", "marks"]
