from django import forms
from django.contrib import admin

from accounts.admin_money import MoneyAdmin, MoneyTabularInline
from billing.models import ModelPrice
from proxy.models import Deployment, ModelRoute, Provider, kind_choices


class ProviderForm(forms.ModelForm):
    # Write-only: the stored secret is never shown; leave empty to keep it.
    new_api_key = forms.CharField(
        label="API key", required=False, widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted. Leave empty to keep the current key.",
    )  # fmt: skip

    kind = forms.ChoiceField(choices=kind_choices)  # the adapters' registry, not a migration

    class Meta:
        model = Provider
        fields = ["name", "kind", "base_url", "timeout_s", "is_active"]

    def save(self, commit=True):
        provider = super().save(commit=False)
        if self.cleaned_data.get("new_api_key"):
            provider.api_key = self.cleaned_data["new_api_key"]
        if commit:
            provider.save()
        return provider


@admin.register(Provider)
class ProviderAdmin(MoneyAdmin):
    form = ProviderForm
    # organization: empty for the platform's (the routes file's), else that organization's
    # own (BYOK, managed by it in the portal and the API).
    list_display = ["name", "organization", "kind", "base_url", "timeout_s", "is_active"]
    list_filter = ["kind", "is_active", ("organization", admin.EmptyFieldListFilter)]
    search_fields = ["name", "base_url", "organization__slug"]


class DeploymentInline(MoneyTabularInline):
    model = Deployment
    extra = 0


@admin.register(ModelRoute)
class ModelRouteAdmin(MoneyAdmin):
    list_display = [
        "name", "organization", "input_price", "output_price", "cached_input_price", "is_active",
    ]  # fmt: skip
    list_filter = [("organization", admin.EmptyFieldListFilter)]
    search_fields = ["name", "organization__slug"]
    inlines = [DeploymentInline]


@admin.register(Deployment)
class DeploymentAdmin(MoneyAdmin):
    list_display = ["model_route", "provider", "upstream_model", "priority", "weight"]
    list_filter = ["provider"]


@admin.register(ModelPrice)
class ModelPriceAdmin(MoneyAdmin):
    """A model's dated prices (billing.prices), next to its route: each is in force from
    its time on, and past usage keeps the cost it had when it was made."""

    list_display = [
        "model", "effective_from", "input_price", "output_price", "cached_input_price",
        "cache_write_price", "note",
    ]  # fmt: skip
    list_filter = ["model"]
    search_fields = ["model"]
    ordering = ["model", "-effective_from"]
