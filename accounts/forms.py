"""Portal forms: they parse and bound the input; the rules live in accounts.services."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone

from accounts import limits, model_catalog
from accounts.errors import DomainError, FieldError
from accounts.models import APIKey, BudgetPeriod, Organization, Role
from accounts.money import MAX_USD, pico_to_usd, usd_to_pico

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


def _usd_field(label: str, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=Decimal(0),
        max_value=MAX_USD,
        max_digits=19,
        decimal_places=12,
        help_text=help_text,
    )


def _pico(usd: Decimal | None) -> int | None:
    return usd_to_pico(usd) if usd is not None else None


def _usd_initial(pico: int | None) -> Decimal | None:
    return pico_to_usd(pico) if pico is not None else None


class ModelChecklist(forms.CheckboxSelectMultiple):
    """The served models as checkboxes; the field's value stays the comma-separated text
    (what a script may still post), so checked boxes arrive joined by commas."""

    def value_from_datadict(self, data, files, name):
        values = data.getlist(name) if hasattr(data, "getlist") else [data.get(name) or ""]
        return ", ".join(v for v in values if v)

    def format_value(self, value):
        return _split(value) if isinstance(value, str) else list(value or [])


class KeyLimitsForm(PortalForm):
    """A key's name and limits, as created and as edited; empty clears a limit."""

    def __init__(
        self,
        *args,
        kept_models: tuple[str, ...] = (),
        organization_id: int | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.kept_models = kept_models
        self.organization_id = organization_id
        served = model_catalog.served_models(organization_id)
        if served:  # a choice among the served models (and any the key already names)
            field = self.fields["allowed_models"]
            names = sorted(set(served) | set(self.kept_models))
            field.widget = ModelChecklist(choices=[(n, n) for n in names])
            field.help_text = "The models this key may call; none checked allows all."

    name = forms.CharField(max_length=limits.MAX_NAME, strip=True)
    expires_on = forms.DateField(
        label="Valid through (UTC date)",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Leave empty for a key that does not expire.",
    )
    allowed_models = forms.CharField(
        required=False,
        max_length=10_000,
        help_text="Comma-separated, e.g. gpt-4o-mini, claude-3-5-haiku. Empty allows all.",
    )
    rpm_limit = forms.IntegerField(
        label="Requests per minute", required=False, min_value=0, max_value=limits.MAX_COUNT
    )
    tpm_limit = forms.IntegerField(
        label="Tokens per minute", required=False, min_value=0, max_value=limits.MAX_COUNT
    )
    budget_usd = _usd_field("Budget (USD)")
    budget_period = forms.ChoiceField(
        label="Budget resets",
        choices=BudgetPeriod.choices,
        initial=BudgetPeriod.TOTAL,
        required=False,  # a form posted without it (a script) means a total budget
        help_text="Total never resets; the others at 00:00 UTC, on Monday, on the 1st.",
    )
    max_price_usd = forms.DecimalField(
        label="Price ceiling (USD per million tokens)",
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(1_000_000),
        max_digits=13,
        decimal_places=6,
        help_text="Models priced above it, input or output, are refused. Empty: no ceiling.",
    )
    allowed_ips = forms.CharField(
        label="Allowed IPs",
        required=False,
        max_length=10_000,
        help_text="CIDRs, comma-separated, e.g. 203.0.113.0/24, 2001:db8::/32. Empty: anywhere.",
    )

    @classmethod
    def for_key(cls, key: APIKey, data=None) -> "KeyLimitsForm":
        """The form filled with the key's values, for its edit page."""
        expires_on = None
        if key.expires_at is not None:  # the last instant it works is on that day
            expires_on = (key.expires_at - timedelta(microseconds=1)).date()
        initial = {
            "name": key.name,
            "expires_on": expires_on,
            "allowed_models": ", ".join(key.allowed_models or []),
            "rpm_limit": key.rpm_limit,
            "tpm_limit": key.tpm_limit,
            "budget_usd": _usd_initial(key.budget_pico),
            "budget_period": key.budget_period,
            "allowed_ips": ", ".join(key.allowed_ips or []),
            "max_price_usd": None
            if key.max_price_micros is None
            else Decimal(key.max_price_micros) / 10**6,
        }
        return cls(
            data,
            initial=initial,
            kept_models=tuple(key.allowed_models or ()),
            organization_id=key.organization_id,
        )

    def clean_allowed_models(self) -> str:
        names = _split(self.cleaned_data["allowed_models"])
        try:
            model_catalog.check_served(
                names, keep=self.kept_models, organization_id=self.organization_id
            )
        except FieldError as exc:
            raise forms.ValidationError(exc.message) from None
        return ", ".join(names)

    def clean_expires_on(self):
        day = self.cleaned_data["expires_on"]
        if day is not None and day < timezone.now().date():
            raise forms.ValidationError("Pick today or a later date.")
        return day

    def clean_allowed_ips(self) -> list[str]:
        try:
            return limits.cidrs(_split(self.cleaned_data["allowed_ips"]))
        except FieldError as exc:
            raise forms.ValidationError(exc.message) from None

    def service_fields(self) -> dict:
        """The cleaned data as keyword arguments of the key services."""
        data = self.cleaned_data
        day = data["expires_on"]
        return {
            "name": data["name"],
            # Valid through the whole chosen day, in UTC.
            "expires_at": (
                datetime.combine(day + timedelta(days=1), time.min, tzinfo=UTC) if day else None
            ),
            "allowed_models": _split(data["allowed_models"]),
            "rpm_limit": data["rpm_limit"],
            "tpm_limit": data["tpm_limit"],
            "budget_pico": _pico(data["budget_usd"]),
            "budget_period": data["budget_period"] or None,
            "allowed_ips": data["allowed_ips"],
            "max_price_micros": limits.price_micros(data.get("max_price_usd")),
        }

    def add_service_error(self, exc: DomainError) -> None:
        """A service's refusal beside the field it names, else above the form."""
        field = getattr(exc, "field", None)
        field = {"expires_at": "expires_on"}.get(field, field)
        self.add_error(field if field in self.fields else None, exc.message)


class KeyCreateForm(KeyLimitsForm):
    # Shown to admins and owners only; a member's forged value is refused by the service.
    is_management = forms.BooleanField(
        label="Management key (calls the management API, never /v1)", required=False
    )

    def service_fields(self) -> dict:
        return {**super().service_fields(), "is_management": self.cleaned_data["is_management"]}


def _split(text: str) -> list[str]:
    return [part.strip() for part in (text or "").replace("\n", ",").split(",") if part.strip()]


class KeyRotateForm(PortalForm):
    grace_hours = forms.IntegerField(
        label="Grace hours", min_value=0, max_value=MAX_GRACE_HOURS, initial=0
    )


class InviteForm(PortalForm):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER)


class RoleForm(PortalForm):
    role = forms.ChoiceField(choices=Role.choices)


class MemberRemoveForm(PortalForm):
    keys = forms.ChoiceField(
        label="Their keys",
        choices=[("revoke", "Revoke them"), ("reassign", "Reassign them to me")],
        initial="revoke",
        required=False,
    )

    def clean_keys(self) -> str:
        return self.cleaned_data["keys"] or "revoke"


class OrganizationLimitsForm(PortalForm):
    """The organization's caps over all its keys; empty: no cap."""

    rpm_limit = forms.IntegerField(
        label="Requests per minute", required=False, min_value=0, max_value=limits.MAX_COUNT
    )
    tpm_limit = forms.IntegerField(
        label="Tokens per minute", required=False, min_value=0, max_value=limits.MAX_COUNT
    )
    monthly_cap_usd = _usd_field(
        "Monthly spend cap (USD)", "Requests stop (402) once a calendar month's spend reaches it."
    )

    @classmethod
    def for_organization(cls, org: Organization, data=None) -> "OrganizationLimitsForm":
        initial = {
            "rpm_limit": org.rpm_limit,
            "tpm_limit": org.tpm_limit,
            "monthly_cap_usd": _usd_initial(org.monthly_cap_pico),
        }
        return cls(data, initial=initial)

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "rpm_limit": data["rpm_limit"],
            "tpm_limit": data["tpm_limit"],
            "monthly_cap_pico": _pico(data["monthly_cap_usd"]),
        }


class OrganizationAlertsForm(PortalForm):
    low_balance_threshold_usd = _usd_field(
        "Low-balance alert below (USD)", "The owners get an email; empty: no alert."
    )
    pause_keys_on_spike = forms.BooleanField(
        label="Pause keys on a spend spike (an admin resumes them under Keys)", required=False
    )

    @classmethod
    def for_organization(cls, org: Organization, data=None) -> "OrganizationAlertsForm":
        initial = {
            "low_balance_threshold_usd": _usd_initial(org.low_balance_threshold_pico),
            "pause_keys_on_spike": org.pause_keys_on_spike,
        }
        return cls(data, initial=initial)

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "low_balance_threshold_pico": _pico(data["low_balance_threshold_usd"]),
            "pause_keys_on_spike": data["pause_keys_on_spike"],
        }


RETENTION_CHOICES = [(1, "1 day"), (7, "7 days"), (30, "30 days"), (90, "90 days")]


class OrganizationLoggingForm(PortalForm):
    log_bodies = forms.BooleanField(
        label="Store each request's prompt and answer (shown in the request log)",
        required=False,
    )
    body_retention_days = forms.TypedChoiceField(
        label="Keep them for",
        choices=RETENTION_CHOICES,
        coerce=int,
        help_text="Older ones are deleted within the hour.",
    )

    @classmethod
    def for_organization(cls, org: Organization, data=None) -> "OrganizationLoggingForm":
        initial = {"log_bodies": org.log_bodies, "body_retention_days": org.body_retention_days}
        return cls(data, initial=initial)

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "log_bodies": data["log_bodies"],
            "body_retention_days": data["body_retention_days"],
        }
