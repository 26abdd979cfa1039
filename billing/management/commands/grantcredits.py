from django.core.management.base import BaseCommand, CommandError

from accounts.models import Organization
from accounts.money import format_usd, usd_to_pico
from billing.models import LedgerKind
from billing.services import credits_grant


class Command(BaseCommand):
    help = "Adds (or, negative, removes) credits through the ledger; prints the new balance."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument("--usd", required=True, help="amount in USD; negative removes")
        parser.add_argument("--reason", required=True, help="why, kept in the ledger")

    def handle(self, *args, **opts):
        org = Organization.objects.filter(slug=opts["org"]).first()
        if org is None:
            raise CommandError(f"No organization has the slug {opts['org']!r}.")
        try:
            amount = usd_to_pico(opts["usd"])
        except ValueError as err:
            raise CommandError(str(err)) from err
        if amount == 0:
            raise CommandError("The amount is zero; nothing to grant.")
        kind = LedgerKind.GRANT if amount > 0 else LedgerKind.ADJUSTMENT
        balance = credits_grant(
            organization=org, amount_pico=amount, reason=opts["reason"], kind=kind
        )
        self.stdout.write(format_usd(balance))
