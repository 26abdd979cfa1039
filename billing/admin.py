from django.contrib import admin

from billing.models import Alert, CreditLedgerEntry, SpendCounter, UsageQuarantine, UsageRecord


@admin.register(CreditLedgerEntry)
class CreditLedgerEntryAdmin(admin.ModelAdmin):
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
class UsageRecordAdmin(admin.ModelAdmin):
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


class ReadOnlyAdmin(admin.ModelAdmin):
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
class AlertAdmin(admin.ModelAdmin):
    list_display = ["organization", "kind", "message", "created_at", "emailed_at", "resolved_at"]
    list_filter = ["kind"]
    search_fields = ["organization__slug"]
