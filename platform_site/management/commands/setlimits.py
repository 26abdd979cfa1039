"""`setlimits`: an organization's own caps over all its keys. In platform_site beside the
other operator commands that shape an organization (mintkey, seeddemo)."""

from django.core.management.base import BaseCommand, CommandError

from accounts import limits
from accounts.errors import DomainError
from accounts.models import Organization
from accounts.money import usd_text
from accounts.services import organization_set_limits

FLAGS = {"rpm_limit": "--rpm", "tpm_limit": "--tpm", "monthly_cap_usd": "--monthly-cap-usd"}


class Command(BaseCommand):
    help = (
        "Sets the organization's own RPM, TPM and monthly spend caps over all its keys; "
        "'none' clears one, an option not given stays. Prints the limits now in force."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--rpm", help="requests per minute over all keys, or none")
        parser.add_argument("--tpm", help="tokens per minute over all keys, or none")
        parser.add_argument("--monthly-cap-usd", help="USD spend per calendar month, or none")

    def handle(self, *args, **opts):
        org = Organization.objects.filter(slug=opts["org"]).first()
        if org is None:
            raise CommandError(f"No organization has the slug {opts['org']!r}.")
        changes = {}
        try:
            if opts["rpm"] is not None:
                changes["rpm_limit"] = limits.count_or_none("rpm_limit", opts["rpm"])
            if opts["tpm"] is not None:
                changes["tpm_limit"] = limits.count_or_none("tpm_limit", opts["tpm"])
            if opts["monthly_cap_usd"] is not None:
                changes["monthly_cap_pico"] = limits.usd_or_none(
                    "monthly_cap_usd", opts["monthly_cap_usd"]
                )
            org = organization_set_limits(organization=org, **changes)
        except DomainError as err:
            flag = FLAGS.get(getattr(err, "field", ""))
            raise CommandError(f"{flag}: {err.message}" if flag else err.message) from err
        self.stdout.write(limits_text(org))


def limits_text(org: Organization) -> str:
    def shown(value) -> str:
        return "none" if value is None else str(value)

    cap = None if org.monthly_cap_pico is None else usd_text(org.monthly_cap_pico)
    return (
        f"rpm: {shown(org.rpm_limit)}\ntpm: {shown(org.tpm_limit)}\nmonthly_cap_usd: {shown(cap)}"
    )
