"""Portal forms: they parse and bound the input; the rules live in accounts.services."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone

from accounts.models import Role
from accounts.money import usd_to_pico

# PositiveIntegerField's range on every database backend.
MAX_LIMIT = 2_147_483_647
MAX_GRACE_HOURS = 720


class PortalForm(forms.Form):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")  # labels sit above their fields
        super().__init__(*args, **kwargs)


class OrganizationForm(PortalForm):
    name = forms.CharField(max_length=100, strip=True)


class OrganizationDeleteForm(PortalForm):
    confirm = forms.CharField(label="Type the organization's slug to confirm", max_length=60)

    def __init__(self, *args, slug: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.slug = slug

    def clean_confirm(self) -> str:
        value = self.cleaned_data["confirm"].strip()
        if value != self.slug:
            raise forms.ValidationError(f"Type {self.slug} exactly to delete the organization.")
        return value


class KeyCreateForm(PortalForm):
    name = forms.CharField(max_length=100, strip=True)
    expires_on = forms.DateField(
        label="Valid through (UTC date)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty for a key that does not expire.",
    )
    allowed_models = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Comma-separated, e.g. gpt-4o-mini, claude-3-5-haiku. Empty allows all.",
    )
    rpm_limit = forms.IntegerField(
        label="Requests per minute", required=False, min_value=0, max_value=MAX_LIMIT
    )
    tpm_limit = forms.IntegerField(
        label="Tokens per minute", required=False, min_value=0, max_value=MAX_LIMIT
    )
    budget_usd = forms.DecimalField(
        label="Budget (USD)",
        required=False,
        min_value=Decimal(0),
        max_digits=15,
        decimal_places=6,
    )
    # Shown to admins and owners only; a member's forged value is refused by the service.
    is_management = forms.BooleanField(
        label="Management key (calls the management API, never /v1)", required=False
    )

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        if day is not None and day < timezone.now().date():
            raise forms.ValidationError("Pick today or a later date.")
        return day

    def service_fields(self) -> dict:
        """The cleaned data as keyword arguments of services.api_key_create_as."""
        data = self.cleaned_data
        day = data["expires_on"]
        budget = data["budget_usd"]
        models = [m.strip() for m in data["allowed_models"].split(",") if m.strip()]
        return {
            "name": data["name"],
            # Valid through the whole chosen day, in UTC.
            "expires_at": (
                datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC) if day else None
            ),
            "allowed_models": models,
            "rpm_limit": data["rpm_limit"],
            "tpm_limit": data["tpm_limit"],
            "budget_pico": usd_to_pico(budget) if budget is not None else None,
            "is_management": data["is_management"],
        }


class KeyRotateForm(PortalForm):
    grace_hours = forms.IntegerField(
        label="Grace hours", min_value=0, max_value=MAX_GRACE_HOURS, initial=0
    )


class InviteForm(PortalForm):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(PortalForm):
    role = forms.ChoiceField(choices=Role.choices)
