from django.contrib import admin

from billing.models import CreditLedgerEntry, UsageRecord


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
    list_filter = ["status", "endpoint", "streamed"]
    search_fields = ["request_id", "organization__slug", "model"]
    date_hierarchy = "created_at"

    # Usage is what happened: written by the proxy only.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
