"""`mintkey`: an organization (and its owner), its credit and a key, in one step. In
platform_site because it composes accounts (the key) and billing (the credit)."""

from datetime import UTC, date, datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import limits
from accounts.errors import DomainError
from accounts.models import BudgetPeriod, Membership, Organization, Role, User
from accounts.money import usd_to_pico
from accounts.services import api_key_create, organization_create
from billing.services import credits_grant


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _usd(flag: str, text: str | None) -> int | None:
    if not text:
        return None
    try:
        return usd_to_pico(text)
    except ValueError as err:
        raise CommandError(f"{flag}: {err}.") from None


def _expiry(day: str | None) -> datetime | None:
    """YYYY-MM-DD -> 00:00 UTC of that day (the key stops working as that day begins)."""
    if not day:
        return None
    try:
        return datetime.combine(date.fromisoformat(day.strip()), time.min, tzinfo=UTC)
    except ValueError:
        raise CommandError(f"--expires: {day!r} is not a date; write it as YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = (
        "Creates the organization (and its owner for --email) if missing, grants --credits, "
        "and mints a key with the given limits. Prints the key alone on the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--email", help="owner's email; the user is created if missing")
        parser.add_argument("--name", default="cli key", help="the key's name")
        parser.add_argument("--credits", help="USD of credit to grant first")
        parser.add_argument("--rpm", type=int, help="requests per minute limit")
        parser.add_argument("--tpm", type=int, help="tokens per minute limit")
        parser.add_argument("--models", help="comma-separated model names the key may use")
        parser.add_argument("--budget-usd", help="USD budget of the key")
        parser.add_argument(
            "--budget-period",
            choices=BudgetPeriod.values,
            default=BudgetPeriod.TOTAL,
            help="when the budget starts again: never (total), 00:00 UTC, Monday, the 1st",
        )
        parser.add_argument(
            "--max-price-usd",
            help="price ceiling, USD per million tokens: models priced above it are refused",
        )
        parser.add_argument("--ips", help="comma-separated CIDRs (IPv4, IPv6) it may be used from")
        parser.add_argument("--expires", help="YYYY-MM-DD: the key stops at 00:00 UTC that day")
        parser.add_argument("--management", action="store_true", help="a key for /api/ only")

    def handle(self, *args, **opts):
        try:
            credits = _usd("--credits", opts["credits"]) or 0
            if credits < 0:
                raise CommandError(
                    "--credits: give a positive amount; grantcredits removes credit."
                )
            # Every limit is checked before the organization, the credit or the key exist.
            fields = limits.key_fields(
                name=opts["name"],
                allowed_models=_csv(opts["models"]),
                rpm_limit=opts["rpm"],
                tpm_limit=opts["tpm"],
                budget_pico=_usd("--budget-usd", opts["budget_usd"]),
                budget_period=opts["budget_period"],
                allowed_ips=_csv(opts["ips"]),
                expires_at=_expiry(opts["expires"]),
                max_price_micros=limits.price_micros(opts["max_price_usd"]),
            )
            with transaction.atomic():
                org = self._organization(opts["org"])
                owner = self._owner(org, opts["email"]) if opts["email"] else None
                if credits:
                    credits_grant(organization=org, amount_pico=credits, reason="mintkey")
                new = api_key_create(
                    organization=org,
                    created_by=owner,
                    is_management=opts["management"],
                    **fields,
                )
        except DomainError as err:
            raise CommandError(_flagged(err)) from err
        self.stderr.write(f"Minted {new.key.prefix}… for {org.slug}; it is shown only now.")
        self.stdout.write(new.secret)

    def _organization(self, slug: str) -> Organization:
        org = Organization.objects.filter(slug=slug).first()
        return org or organization_create(name=slug, owner=None, slug=slug)

    def _owner(self, org: Organization, email: str) -> User:
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email=email)  # no password: they reset it
        Membership.objects.get_or_create(user=user, organization=org, defaults={"role": Role.OWNER})
        return user


FLAGS = {
    "name": "--name",
    "allowed_models": "--models",
    "rpm_limit": "--rpm",
    "tpm_limit": "--tpm",
    "budget_usd": "--budget-usd",
    "budget_period": "--budget-period",
    "allowed_ips": "--ips",
    "expires_at": "--expires",
    "max_price_usd": "--max-price-usd",
}


def _flagged(err: Exception) -> str:
    """The message, led by the flag it is about when it names a field."""
    message = getattr(err, "message", str(err))
    flag = FLAGS.get(getattr(err, "field", ""))
    return f"{flag}: {message}" if flag else message
