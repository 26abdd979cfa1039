"""Money in the Django admin in dollars (issue 12), never raw pico-USD.

`MoneyAdmin` shows every `*_pico` field as dollars (accounts.money.format_usd, the exact
amount on hover) in lists and read-only pages, edits it in dollars, and shows token prices
(integer micro-USD per million tokens, i.e. pico-USD per token) as USD per million tokens.
"""

from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from accounts.money import MAX_USD, format_usd, usd_text, usd_to_pico

PRICE_FIELDS = ("input_price", "output_price", "cached_input_price", "cache_write_price")
MICRO_PER_USD = 10**6


def price_text(micro_per_million: int) -> str:
    """480_000 (micro-USD per million tokens) -> "$0.48 / 1M tokens"."""
    usd = Decimal(micro_per_million).scaleb(-6)
    text = format(
        usd.quantize(Decimal("0.01")) if usd == usd.quantize(Decimal("0.01")) else usd.normalize(),
        "f",
    )
    return f"${text} / 1M tokens"


class DollarsField(forms.CharField):
    """Edits a pico-USD integer as an amount of dollars ("12.50")."""

    def __init__(self, *, per_million_tokens: bool = False, **kwargs) -> None:
        self.per_million_tokens = per_million_tokens
        kwargs.pop("max_length", None)
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            if self.per_million_tokens:
                return format(Decimal(value).scaleb(-6).normalize(), "f")
            return usd_text(value)
        return value

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        text = str(value).strip().lstrip("$").replace(",", "")
        try:
            if self.per_million_tokens:
                amount = Decimal(text)
                micro = amount * MICRO_PER_USD
                if (
                    not amount.is_finite()
                    or abs(amount) > MAX_USD
                    or micro != micro.to_integral_value()
                ):
                    raise ValueError
                return int(micro)
            return usd_to_pico(text)
        except (ValueError, ArithmeticError) as exc:
            raise ValidationError(
                "Enter an amount of dollars, like 12.50"
                + (" (per million tokens, at most 6 decimals)." if self.per_million_tokens else ".")
            ) from exc


class MoneyMixin:
    """For a ModelAdmin or an inline: see the module's docstring."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        names = {f.name: f for f in self.model._meta.concrete_fields}
        self._money = {n: f for n, f in names.items() if n.endswith("_pico")}
        self._prices = {n: f for n, f in names.items() if n in PRICE_FIELDS}
        for name, field in {**self._money, **self._prices}.items():
            setattr(self, self._shown(name), self._display(name, field))

    @staticmethod
    def _shown(name: str) -> str:
        return f"{name.removesuffix('_pico')}_usd" if name.endswith("_pico") else f"{name}_usd"

    def _display(self, name: str, field):
        is_price = name in self._prices
        label = str(field.verbose_name).removesuffix(" pico").strip()

        def show(obj):
            value = getattr(obj, name)
            if value is None:
                return "-"
            if is_price:
                return price_text(value)
            return format_html('<span title="{} USD">{}</span>', usd_text(value), format_usd(value))

        show.short_description = f"{label} (USD / 1M tokens)" if is_price else f"{label} (USD)"
        show.admin_order_field = name
        return show

    def _swap(self, names, *, all_money: bool, readonly=()):
        out = []
        for name in names:
            if (
                isinstance(name, str)
                and (name in self._money or name in self._prices)
                and (all_money or name in readonly)
            ):
                out.append(self._shown(name))
            elif isinstance(name, list | tuple):
                out.append(type(name)(self._swap(name, all_money=all_money, readonly=readonly)))
            else:
                out.append(name)
        return out

    def get_list_display(self, request):
        return self._swap(super().get_list_display(request), all_money=True)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return self._swap(fields, all_money=not self.has_change_permission(request, obj),
                          readonly=fields)  # fmt: skip

    def get_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        fields = super().get_fields(request, obj)
        shown = {self._shown(n) for n in readonly if n in self._money or n in self._prices}
        fields = self._swap(fields, all_money=not self.has_change_permission(request, obj),
                            readonly=readonly)  # fmt: skip
        return list(dict.fromkeys([*fields, *(f for f in shown if f not in fields)]))

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if self.fieldsets is None:
            return fieldsets  # built from get_fields, already swapped
        readonly = super().get_readonly_fields(request, obj)
        change = self.has_change_permission(request, obj)
        return [
            (
                title,
                {
                    **opts,
                    "fields": self._swap(opts["fields"], all_money=not change, readonly=readonly),
                },
            )
            for title, opts in fieldsets
        ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in self._money or db_field.name in self._prices:
            is_price = db_field.name in self._prices
            label = str(db_field.verbose_name).removesuffix(" pico").strip().capitalize()
            return DollarsField(
                per_million_tokens=is_price,
                required=not db_field.blank,
                label=f"{label} (USD per million tokens)" if is_price else f"{label} (USD)",
                help_text=db_field.help_text,
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class MoneyAdmin(MoneyMixin, admin.ModelAdmin):
    pass


class MoneyTabularInline(MoneyMixin, admin.TabularInline):
    pass
