from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.errors import DomainError
from accounts.models import Membership, Organization, Role, User
from accounts.money import usd_to_pico
from accounts.services import api_key_create, organization_create
from billing.services import credits_grant


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


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
        parser.add_argument("--management", action="store_true", help="a key for /api/ only")

    def handle(self, *args, **opts):
        try:
            credits = usd_to_pico(opts["credits"]) if opts["credits"] else 0
            budget = usd_to_pico(opts["budget_usd"]) if opts["budget_usd"] else None
            with transaction.atomic():
                org = self._organization(opts["org"])
                owner = self._owner(org, opts["email"]) if opts["email"] else None
                if credits:
                    credits_grant(organization=org, amount_pico=credits, reason="mintkey")
                new = api_key_create(
                    organization=org,
                    name=opts["name"],
                    created_by=owner,
                    allowed_models=_csv(opts["models"]),
                    rpm_limit=opts["rpm"],
                    tpm_limit=opts["tpm"],
                    budget_pico=budget,
                    is_management=opts["management"],
                )
        except (DomainError, ValueError) as err:
            raise CommandError(getattr(err, "message", str(err))) from err
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
