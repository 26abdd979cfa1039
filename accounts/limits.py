"""The bounds of a key's limits and an organization's caps, checked in one place.

Every path that writes them (the portal, the API, the operator commands) ends in a service
that calls these first, before anything is created: a value the database cannot hold must
be a sentence naming its field, never a 500 (whose debug page once showed a new key's
secret). Errors name the field as the API spells it (`budget_usd`, not `budget_pico`).
"""

import enum
import ipaddress
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.utils import timezone

from accounts.errors import FieldError
from accounts.models import BudgetPeriod
from accounts.money import MAX_PICO, format_usd, usd_to_pico

# PositiveIntegerField's range on every database backend.
MAX_COUNT = 2_147_483_647
MAX_CIDRS = 100
MAX_MODELS = 500
MAX_NAME = 100


# How messages name a field; a field not here (an operator's flag) names itself.
LABELS = {
    "rpm_limit": "The RPM limit",
    "tpm_limit": "The TPM limit",
    "budget_usd": "The budget",
    "monthly_cap_usd": "The monthly cap",
    "low_balance_threshold_usd": "The low-balance threshold",
    "max_price_usd": "The price ceiling",
}
# A price ceiling in micro-USD per million tokens: up to $1,000,000 per million tokens.
MAX_PRICE_MICROS = 10**12


class _Unchanged(enum.Enum):
    """The default of a partial update's arguments: leave the value as it is (None clears)."""

    UNCHANGED = "unchanged"


UNCHANGED = _Unchanged.UNCHANGED
Unchanged = _Unchanged


def name(value: str) -> str:
    text = (value or "").strip()
    if not text:
        raise FieldError("name", "Give the key a name, so you can tell it apart later.")
    if len(text) > MAX_NAME:
        raise FieldError("name", f"Keep the name to {MAX_NAME} characters.")
    return text


def count(field: str, value: int | None) -> int | None:
    """A per-minute rate (RPM, TPM): None for no limit, else 0 … 2,147,483,647."""
    if value is None:
        return None
    label = LABELS.get(field, field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, f"{label} must be a whole number.")
    if value < 0:
        raise FieldError(field, f"{label} cannot be negative.")
    if value > MAX_COUNT:
        raise FieldError(field, f"{label} can be at most {MAX_COUNT:,}.")
    return value


def amount(field: str, pico: int | None) -> int | None:
    """A budget, cap or threshold in pico-USD: None for none, else 0 … accounts.money.MAX_USD."""
    if pico is None:
        return None
    label = LABELS.get(field, field)
    if pico < 0:
        raise FieldError(field, f"{label} cannot be negative.")
    if pico > MAX_PICO:
        raise FieldError(field, f"{label} can be at most {format_usd(MAX_PICO)}.")
    return pico


def price_ceiling(micros: int | None) -> int | None:
    """A key's price ceiling, micro-USD per million tokens: None for none."""
    if micros is None:
        return None
    if isinstance(micros, bool) or not isinstance(micros, int):
        raise FieldError("max_price_usd", "The price ceiling must be an amount of USD.")
    if micros < 0:
        raise FieldError("max_price_usd", "The price ceiling cannot be negative.")
    if micros > MAX_PRICE_MICROS:
        raise FieldError(
            "max_price_usd", "The price ceiling can be at most $1,000,000 per million tokens."
        )
    return micros


def price_micros(text: object) -> int | None:
    """USD per million tokens (a Decimal, a number's text, or None) -> micro-USD per million
    tokens; FieldError beyond 6 decimals."""
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "none")):
        return None
    try:
        amount = Decimal(str(text).strip())
    except InvalidOperation:
        raise FieldError(
            "max_price_usd", f"{text!r} is not an amount of USD per million tokens."
        ) from None
    micros = amount * 1_000_000
    if not amount.is_finite() or micros != micros.to_integral_value():
        raise FieldError(
            "max_price_usd", "The price ceiling takes at most 6 decimals (USD per million tokens)."
        )
    return price_ceiling(int(micros))


def budget_period(value: str | None) -> str:
    """One of BudgetPeriod; None is `total`, the budget that never resets."""
    if value is None:
        return BudgetPeriod.TOTAL
    if value not in BudgetPeriod.values:
        raise FieldError(
            "budget_period", f"The budget period must be one of {', '.join(BudgetPeriod.values)}."
        )
    return value


def cidrs(values: Iterable[str] | None) -> list[str]:
    """IPv4 and IPv6 networks, normalized (`10.1.2.3/8` -> `10.0.0.0/8`, a bare address is
    its /32 or /128), without duplicates, in the order given. Empty: from anywhere."""
    out: list[str] = []
    for raw in values or ():
        text = str(raw).strip()
        if not text:
            continue
        try:
            network = str(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise FieldError(
                "allowed_ips",
                f"{text!r} is not an IP network; write it as a CIDR such as 203.0.113.0/24 "
                "or 2001:db8::/32.",
            ) from None
        if network not in out:
            out.append(network)
    if len(out) > MAX_CIDRS:
        raise FieldError("allowed_ips", f"A key takes at most {MAX_CIDRS} networks.")
    return out


def models(values: Iterable[str] | None) -> list[str]:
    """Model names, sorted and without duplicates. Empty: every model."""
    out = sorted({str(m).strip() for m in values or () if m and str(m).strip()})
    if len(out) > MAX_MODELS:
        raise FieldError("allowed_models", f"A key takes at most {MAX_MODELS} model names.")
    return out


def expiry(value: datetime | None, *, now: datetime | None = None) -> datetime | None:
    if value is not None and value <= (now or timezone.now()):
        raise FieldError("expires_at", "The expiry must lie in the future.")
    return value


def usd_or_none(field: str, text: str | None) -> int | None:
    """Operator input: an amount of USD, or `none` (or nothing) for none; pico-USD."""
    if text is None or text.strip().lower() in ("", "none"):
        return None
    try:
        pico = usd_to_pico(text)
    except ValueError as err:
        raise FieldError(field, f"{err}; give an amount of USD or 'none'.") from None
    return amount(field, pico)


def count_or_none(field: str, text: str | None) -> int | None:
    """Operator input: a whole number, or `none` (or nothing) for no limit."""
    if text is None or text.strip().lower() in ("", "none"):
        return None
    try:
        value = int(text.strip())
    except ValueError:
        raise FieldError(field, f"{text!r} is not a whole number or 'none'.") from None
    return count(field, value)


# The key's fields a service may set, each with its check; see key_fields.
_KEY_FIELDS: dict[str, Callable] = {
    "name": name,
    "allowed_models": models,
    "rpm_limit": lambda v: count("rpm_limit", v),
    "tpm_limit": lambda v: count("tpm_limit", v),
    "budget_pico": lambda v: amount("budget_usd", v),
    "budget_period": budget_period,
    "allowed_ips": cidrs,
    "expires_at": expiry,
    "max_price_micros": price_ceiling,
}
KEY_FIELDS = frozenset(_KEY_FIELDS)


def key_fields(**given) -> dict:
    """The given key fields checked and normalized; FieldError for the first bad one."""
    unknown = set(given) - KEY_FIELDS
    if unknown:
        raise TypeError(f"not a key field: {', '.join(sorted(unknown))}")
    return {field: _KEY_FIELDS[field](value) for field, value in given.items()}
