from django.contrib import admin

from billing.models import CreditLedgerEntry


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
