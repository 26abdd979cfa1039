"""The portal's Providers page: an organization's own providers (BYOK) and the models
served over them or over the platform's providers; proxy.byok does the work.

Every member sees the page; owners and admins add, test and remove. A provider's key is
never rendered: the rows below carry only whether one is set, and the key field of the
form is a password input that does not render its value again after an error.
"""

from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.errors import DomainError, NotAllowed
from accounts.forms import PortalForm
from accounts.models import Membership, Organization
from accounts.views.access import member_view
from proxy import byok, byok_probe
from proxy.models import Provider
from proxy.translate.providers import KINDS

MICROS_PER_USD = 10**6
PICO_PER_MICRO = 10**6
DEFAULT_TIMEOUT_S = 600.0


# --- Forms -----------------------------------------------------------------------------


class ServiceErrors:
    """A service's FieldError beside the field it names (under this form's name for it),
    anything else above the form."""

    field_names: dict[str, str] = {}

    def add_service_error(self, exc: DomainError) -> None:
        field = getattr(exc, "field", None)
        field = self.field_names.get(field, field)
        self.add_error(field if field in self.fields else None, exc.message)


class ProviderForm(ServiceErrors, PortalForm):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "provider_%s")  # both forms have a name: ids differ
        super().__init__(*args, **kwargs)

    name = forms.CharField(
        max_length=100,
        strip=True,
        help_text="Lowercase letters, digits, - or _; models name their provider by it.",
    )
    kind = forms.ChoiceField(
        choices=[(kind, adapter.label) for kind, adapter in KINDS.items()],
        help_text="The API the server speaks.",
    )
    base_url = forms.CharField(
        label="Base URL",
        max_length=500,
        strip=True,
        widget=forms.URLInput(attrs={"placeholder": "https://api.openai.com/v1"}),
        help_text="Where its API starts, such as https://api.openai.com/v1.",
    )
    api_key = forms.CharField(
        label="API key",
        required=False,
        max_length=byok.MAX_KEY_CHARS,
        strip=True,
        # Never rendered back: after an error the field is empty and is typed again.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again. Empty for a server needing none.",
    )
    timeout_s = forms.FloatField(
        label="Timeout (seconds)",
        required=False,
        min_value=0.1,
        max_value=3600,
        help_text=f"How long a call may take. Empty: {DEFAULT_TIMEOUT_S:g} s.",
    )

    def service_fields(self) -> dict:
        data = self.cleaned_data
        timeout = data["timeout_s"]
        return {
            "name": data["name"],
            "kind": data["kind"],
            "base_url": data["base_url"],
            "api_key": data["api_key"],
            "timeout_s": DEFAULT_TIMEOUT_S if timeout is None else timeout,
        }


def _usd_per_million(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=Decimal(0),
        max_value=Decimal(1_000_000),
        max_digits=13,
        decimal_places=6,
        help_text="USD per million tokens; empty: 0. Leave empty over a platform provider.",
    )


class OwnModelForm(ServiceErrors, PortalForm):
    field_names = {"deployments": "upstream_model"}

    name = forms.CharField(max_length=200, strip=True, help_text="What your requests put in model.")
    provider = forms.ChoiceField(help_text="One of yours, or one of the platform's.")
    upstream_model = forms.CharField(
        label="Upstream model",
        max_length=200,
        strip=True,
        help_text="The model's name at that provider, such as gpt-4o-mini.",
    )
    input_price_usd = _usd_per_million("Input price (USD per million tokens)")
    output_price_usd = _usd_per_million("Output price (USD per million tokens)")
    context_window = forms.IntegerField(
        label="Context window (tokens)", required=False, min_value=1, max_value=100_000_000
    )
    max_output_tokens = forms.IntegerField(
        label="Max output tokens", required=False, min_value=1, max_value=100_000_000
    )

    def __init__(self, *args, organization: Organization, **kwargs):
        kwargs.setdefault("auto_id", "model_%s")
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = provider_choices(organization)

    def add_service_error(self, exc: DomainError) -> None:
        # proxy.byok names the one deployment "deployments[0].provider: …"; this form has
        # one provider and one upstream model field instead.
        if getattr(exc, "field", None) == "deployments":
            where, _, rest = exc.message.partition(": ")
            if where.startswith("deployments[0]."):
                field = "provider" if where.endswith(".provider") else "upstream_model"
                self.add_error(field, rest)
                return
        super().add_service_error(exc)

    def service_fields(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "deployments": [{"provider": data["provider"], "model": data["upstream_model"]}],
            "input_price_micros": _micros(data["input_price_usd"]),
            "output_price_micros": _micros(data["output_price_usd"]),
            "context_window": data["context_window"],
            "max_output_tokens": data["max_output_tokens"],
        }


def _micros(usd_per_million: Decimal | None) -> int | None:
    """Exact: the field allows at most 6 decimals."""
    return None if usd_per_million is None else int(usd_per_million * MICROS_PER_USD)


def provider_choices(organization: Organization) -> list:
    """The organization's own active providers, then the platform's, each a group. A
    platform provider named as one of the organization's is left out: the name means the
    organization's own (proxy.byok)."""
    own = list(Provider.objects.filter(organization=organization, is_active=True).order_by("name"))
    names = {p.name for p in own}
    platform = [
        p
        for p in Provider.objects.filter(organization__isnull=True, is_active=True).order_by("name")
        if p.name not in names
    ]
    groups = []
    if own:
        groups.append(("Your providers", [(p.name, _option(p)) for p in own]))
    if platform:
        groups.append(("The platform's providers", [(p.name, _option(p)) for p in platform]))
    return groups


def _option(provider: Provider) -> str:
    return f"{provider.name} ({KINDS[provider.kind].label})"


# --- What the page shows ---------------------------------------------------------------


@dataclass(frozen=True)
class ProviderRow:
    """A provider as the page shows it: whether it has a key, never the key."""

    name: str
    kind: str
    base_url: str
    has_key: bool
    timeout_s: float


@dataclass(frozen=True)
class DeploymentRow:
    provider: str
    upstream_model: str


@dataclass(frozen=True)
class ModelRow:
    name: str
    deployments: tuple[DeploymentRow, ...]
    byok: bool
    input_pico: int  # USD per million tokens, in pico-USD (the `usd` filter's unit)
    output_pico: int
    context_window: int | None
    max_output_tokens: int | None


def _provider_rows(organization: Organization) -> list[ProviderRow]:
    return [
        ProviderRow(
            name=p.name,
            kind=KINDS[p.kind].label if p.kind in KINDS else p.kind,
            base_url=p.base_url,
            has_key=bool(p.api_key_encrypted),
            timeout_s=p.timeout_s,
        )
        for p in byok.providers_of(organization=organization)
    ]


def _model_rows(organization: Organization) -> list[ModelRow]:
    return [
        ModelRow(
            name=m.route.name,
            deployments=tuple(
                DeploymentRow(provider=d.provider.name, upstream_model=d.upstream_model)
                for d in m.deployments
            ),
            byok=m.byok,
            input_pico=m.route.input_price * PICO_PER_MICRO,
            output_pico=m.route.output_price * PICO_PER_MICRO,
            context_window=m.route.context_window,
            max_output_tokens=m.route.max_output_tokens,
        )
        for m in byok.models_of(organization=organization)
    ]


def _page(
    request: HttpRequest,
    membership: Membership,
    *,
    provider_form: ProviderForm | None = None,
    model_form: OwnModelForm | None = None,
    status: int = 200,
) -> HttpResponse:
    org = membership.organization
    context = {
        "membership": membership,
        "providers": _provider_rows(org),
        "models": _model_rows(org),
        "provider_form": provider_form or ProviderForm(),
        "model_form": model_form or OwnModelForm(organization=org),
        "fee_percent": settings.BYOK_FEE_PERCENT,
    }
    return render(request, "proxy/providers.html", context, status=status)


def _back(membership: Membership, anchor: str = "") -> HttpResponse:
    response = redirect("providers", slug=membership.organization.slug)
    if anchor:
        response["Location"] += f"#{anchor}"
    return response


def _require_manager(membership: Membership, what: str) -> None:
    """Before reading the form: a member is refused (403) whatever they posted."""
    if not membership.can_manage:
        raise NotAllowed(f"Only an admin or owner can {what}; ask one of them.")


# --- Views -----------------------------------------------------------------------------


@member_view
def providers_page(request: HttpRequest, membership: Membership) -> HttpResponse:
    return _page(request, membership)


@require_POST
@member_view
def provider_add(request: HttpRequest, membership: Membership) -> HttpResponse:
    _require_manager(membership, "add a provider")
    form = ProviderForm(request.POST)
    if form.is_valid():
        try:
            provider = byok.provider_add(acting=membership, **form.service_fields())
        except NotAllowed:
            raise
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                f"Added the provider {provider.name}. Test it, then add a model over it below.",
            )
            return _back(membership, f"provider-{provider.name}")
    return _page(request, membership, provider_form=form, status=400)


@require_POST
@member_view
def provider_test(request: HttpRequest, membership: Membership, name: str) -> HttpResponse:
    _require_manager(membership, "test a provider")
    provider = byok.provider_get(organization=membership.organization, name=name)
    result = byok_probe.probe(provider)
    if result.ok:
        messages.success(request, f"{provider.name}: {result.message}")
    else:
        messages.error(
            request,
            f"{provider.name}: {result.message} Check its base URL and key: Replace key "
            "stores a new key; a new URL is a PATCH of the API, or the provider removed "
            "and added again.",
        )
    return _back(membership, f"provider-{provider.name}")


@require_POST
@member_view
def provider_key(request: HttpRequest, membership: Membership, name: str) -> HttpResponse:
    """Replaces a provider's key (a rotated key keeps the provider's models served)."""
    _require_manager(membership, "change a provider's key")
    new_key = request.POST.get("api_key", "").strip()
    if not new_key:
        messages.error(request, f"{name}: type the new key, then Replace key.")
        return _back(membership, f"provider-{name}")
    try:
        provider = byok.provider_update(acting=membership, name=name, api_key=new_key)
    except NotAllowed:
        raise
    except DomainError as exc:
        messages.error(request, f"{name}: {exc.message}")
        return _back(membership, f"provider-{name}")
    messages.success(
        request, f"Replaced the key of {provider.name}; the old one is deleted. Test it now."
    )
    return _back(membership, f"provider-{provider.name}")


@require_POST
@member_view
def provider_remove(request: HttpRequest, membership: Membership, name: str) -> HttpResponse:
    _require_manager(membership, "remove a provider")
    try:
        byok.provider_remove(acting=membership, name=name)
    except NotAllowed:
        raise
    except DomainError as exc:  # a model still uses it (a Conflict)
        messages.error(request, exc.message)
        return _back(membership, f"provider-{name}")
    messages.success(request, f"Removed the provider {name}; its key is deleted.")
    return _back(membership)


@require_POST
@member_view
def model_add(request: HttpRequest, membership: Membership) -> HttpResponse:
    _require_manager(membership, "add a model")
    form = OwnModelForm(request.POST, organization=membership.organization)
    if form.is_valid():
        try:
            model = byok.model_add(acting=membership, **form.service_fields())
        except NotAllowed:
            raise
        except DomainError as exc:
            form.add_service_error(exc)
        else:
            messages.success(
                request,
                f"Added the model {model.route.name}. Your API keys can call it within "
                "seconds; a key limited to some models needs it added to its list.",
            )
            return _back(membership, "own-models")
    return _page(request, membership, model_form=form, status=400)


@require_POST
@member_view
def model_remove(request: HttpRequest, membership: Membership) -> HttpResponse:
    _require_manager(membership, "remove a model")
    name = request.POST.get("name", "")
    byok.model_remove(acting=membership, name=name)  # 404 for a name it has no model of
    messages.success(
        request, f"Removed the model {name}; requests for it are refused within seconds."
    )
    return _back(membership, "own-models")
