from django.core.management.base import BaseCommand, CommandError

from accounts.errors import DomainError
from accounts.services import api_key_revoke_by_prefix


class Command(BaseCommand):
    help = "Revokes a key by its visible prefix (as the portal lists it, e.g. jinf_ab12cd34)."

    def add_arguments(self, parser):
        parser.add_argument("prefix")

    def handle(self, *args, **opts):
        prefix = opts["prefix"].strip().rstrip("….")
        try:
            key = api_key_revoke_by_prefix(prefix=prefix)
        except DomainError as err:
            raise CommandError(err.message) from err
        self.stderr.write(f"Revoked {key.prefix}… ({key.name}) of {key.organization.slug}.")
