from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.admin_money import MoneyAdmin, MoneyTabularInline
from accounts.models import APIKey, Invitation, Membership, Organization, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "date_joined"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]


class MembershipInline(MoneyTabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(MoneyAdmin):
    list_display = ["name", "slug", "credit_balance_pico", "created_at"]
    search_fields = ["name", "slug"]
    # The balance is the ledger's sum; change it with a ledger entry, not here.
    readonly_fields = ["credit_balance_pico", "created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(MoneyAdmin):
    list_display = ["user", "organization", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__email", "organization__slug"]
    autocomplete_fields = ["user", "organization"]


@admin.register(Invitation)
class InvitationAdmin(MoneyAdmin):
    list_display = ["email", "organization", "role", "created_at", "sent_at", "accepted_at"]
    search_fields = ["email", "organization__slug"]
    exclude = ["token_digest"]
    readonly_fields = ["sent_at", "accepted_at"]


@admin.register(APIKey)
class APIKeyAdmin(MoneyAdmin):
    list_display = ["prefix", "name", "organization", "is_management", "created_at",
                    "last_used_at", "revoked_at"]  # fmt: skip
    list_filter = ["is_management"]
    search_fields = ["prefix", "name", "organization__slug"]
    # Keys are minted with a secret shown once (portal, API, mintkey); the admin only edits
    # limits and revokes.
    readonly_fields = ["prefix", "organization", "created_by", "created_at", "last_used_at",
                       "rotated_from"]  # fmt: skip
    exclude = ["digest"]

    def has_add_permission(self, request) -> bool:
        return False
